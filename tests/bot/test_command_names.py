"""How the commands are named where clients show them (ad-hoc lists and forms)."""

from __future__ import annotations

from bot.commands import all_commands


def test_every_command_has_a_short_capitalised_name_and_a_help_line() -> None:
    for command in all_commands():
        assert command.label, command.name
        assert command.title[:1].isupper() and len(command.title) <= 24, command.title
        assert command.help and command.help[:1].islower(), command.name  # a description


def test_every_field_is_labelled_with_words() -> None:
    for command in all_commands():
        for param in command.params:
            assert param.label, (command.name, param.name)
            assert param.title not in ("Id", "Jid", "Pack id"), (command.name, param.title)
            assert "(required)" not in param.title and param.help


def test_names_are_unique_as_clients_list_them() -> None:
    titles = [c.title for c in all_commands()]
    assert len(titles) == len(set(titles))
