"""Apply: run a Plan through the DockerPort; the only code that changes Docker."""
