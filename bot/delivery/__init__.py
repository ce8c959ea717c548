"""Outbound delivery, platform-neutral: the outbox and the worker each platform plugs into."""
