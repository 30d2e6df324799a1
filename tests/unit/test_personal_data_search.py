"""The whole-database proof's search (tests/support/personal_data.py) finds a person's strings however
they are stored: in another case, JSON-escaped in a jsonb or text column of a COPY line, inside a bytea
payload, and in a log line at info level or above, but not in a debug line."""

import json

from tests.support.personal_data import Person, found_in, loud_lines, with_bytea_decoded


def test_a_person_is_unique_to_the_run_and_has_a_valid_iban() -> None:
    one, other = Person.new("a"), Person.new("a")
    assert not set(one.strings().values()) & set(other.strings().values())
    iban = one.iban
    assert int("".join(str(int(c, 36)) for c in iban[4:] + iban[:4])) % 97 == 1


def test_every_stored_spelling_is_found() -> None:
    person = Person.new("proof")
    escaped_name = json.dumps(person.billing_last_name)[1:-1].replace("\\", "\\\\")  # as COPY writes jsonb
    payload = json.dumps({"email": person.email.upper(), "holder": person.holder_name}, ensure_ascii=False)
    dump = (
        f'COPY order_api.orders (document) FROM stdin;\n{{"last_name": "{escaped_name}"}}\n\\.\n'
        f"COPY webhooks.messages (payload) FROM stdin;\n\\\\x{payload.encode().hex()}\n\\.\n"
    )

    found = found_in(with_bytea_decoded(dump), person.strings())

    assert found == {
        "billing_last_name": person.billing_last_name,
        "email": person.email,
        "holder_name": person.holder_name,
    }


def test_only_lines_below_info_are_quiet() -> None:
    lines = [
        json.dumps({"level": "debug", "message": "a"}),
        json.dumps({"level": "info", "message": "b"}),
        json.dumps({"level": "error", "message": "c"}),
        "Traceback (most recent call last):",
    ]

    assert loud_lines(lines) == lines[1:]
