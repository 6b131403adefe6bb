"""RabbitMQ: default user/pass variables, rabbitmq-diagnostics ping, definitions export."""

from __future__ import annotations

from reconciler.addons.spec import (
    ConfigKey,
    ConfigType,
    Connection,
    Credentials,
    Engine,
    two_components,
    url_quote,
)


def _env(c: Credentials) -> dict[str, str]:
    return {"RABBITMQ_DEFAULT_USER": c.user, "RABBITMQ_DEFAULT_PASS": c.password}


def _connection(c: Credentials, host: str) -> Connection:
    url = f"amqp://{url_quote(c.user)}:{url_quote(c.password)}@{host}:5672/%2F"
    return Connection(url, host, 5672, c.user, c.password, None)


ENGINE = Engine(
    name="rabbitmq",
    image_repository="rabbitmq",
    versions=("3.10", "3.12", "3.13", "4.0"),
    port=5672,
    data_path="/var/lib/rabbitmq",
    major_of=two_components,
    bootstrap_env=_env,
    secret_env=frozenset({"RABBITMQ_DEFAULT_PASS"}),
    # `ping` answers seconds before the broker accepts connections; this checks the listener.
    healthcheck=("CMD-SHELL", "rabbitmq-diagnostics -q check_port_connectivity"),
    connection=_connection,
    config={
        # RabbitMQ reads these from its config file; the environment form works on every image.
        "vmMemoryHighWatermark": ConfigKey(
            ConfigType.FLOAT, env="RABBITMQ_VM_MEMORY_HIGH_WATERMARK", minimum=0.1
        ),
        "consumerTimeout": ConfigKey(ConfigType.INT, env="RABBITMQ_CONSUMER_TIMEOUT", minimum=1),
    },
    has_database=False,
    backup_command=("sh", "-c", "rabbitmqctl -q export_definitions -"),
    restore_command=("sh", "-c", "rabbitmqctl -q import_definitions"),
    backup_extension="json",
    rotate_command=(
        "sh",
        "-c",
        'read -r NEW && rabbitmqctl -q change_password "$RABBITMQ_DEFAULT_USER" "$NEW"',
    ),
)
