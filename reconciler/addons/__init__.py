"""Add-on catalog: what each managed engine needs (images, ports, health, config, URLs, dumps)."""
