"""A small SOQL parser and evaluator for the Salesforce emulator.

It parses the subset the suite sends and rejects everything else with
MALFORMED_QUERY, so a client never gets a silently wrong result:

    SELECT field, Parent.field, ... | COUNT()
    FROM Object
    [WHERE condition {AND | OR} condition ...]   (parentheses and NOT allowed)
    [ORDER BY field [ASC | DESC] [NULLS FIRST | NULLS LAST], ...]
    [LIMIT n] [OFFSET n]

Conditions compare a field with a literal (=, !=, <>, <, <=, >, >=, LIKE,
IN (...), NOT IN (...)). As in Salesforce, datetime and date literals are
unquoted, string comparisons ignore case, and a quoted value for a date or
datetime field is an error. Mixing AND and OR without parentheses is an
error, as in SOQL.
"""

import re
from dataclasses import dataclass, field
from datetime import date

from .base import parse_iso
from .salesforce_store import SalesforceError

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<operator>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IN",
    "LIKE",
    "ORDER",
    "BY",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "LIMIT",
    "OFFSET",
    "TRUE",
    "FALSE",
    "NULL",
    "COUNT",
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def malformed(message):
    """Return the error Salesforce sends for a query it cannot parse."""
    return SalesforceError(400, "MALFORMED_QUERY", message)


@dataclass
class Token:
    """One lexical token: kind, text and position in the query."""

    kind: str
    text: str
    position: int

    @property
    def upper(self):
        """Return the token text in upper case, for keyword checks."""
        return self.text.upper()


@dataclass
class Literal:
    """A literal value in a condition, with the kind of literal it was."""

    kind: str
    value: object


@dataclass
class Condition:
    """A comparison of one field with one literal or a list of literals."""

    field: str
    operator: str
    value: object
    # The resolved field, set when the query is checked against the schema.
    path: object = None


@dataclass
class BoolOp:
    """AND, OR or NOT over conditions."""

    operator: str
    operands: list


@dataclass
class OrderItem:
    """One ORDER BY term."""

    field: str
    descending: bool
    nulls_first: bool


@dataclass
class Query:
    """A parsed SOQL statement."""

    fields: list
    object_name: str
    where: object = None
    order_by: list = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    count_only: bool = False


def tokenize(text):
    """Split SOQL into tokens; raise MALFORMED_QUERY at an unknown character."""
    tokens = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise malformed(
                f"unexpected character {text[position]!r} at position {position}"
            )
        kind = match.lastgroup
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


class Parser:
    """Recursive-descent parser of the supported SOQL subset."""

    def __init__(self, text):
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    def parse(self):
        """Return the parsed Query, or raise MALFORMED_QUERY."""
        self._expect_keyword("SELECT")
        fields, count_only = self._select_list()
        self._expect_keyword("FROM")
        query = Query(fields, self._name("an object name after FROM"))
        query.count_only = count_only
        if self._accept_keyword("WHERE"):
            query.where = self._expression()
        if self._accept_keyword("ORDER"):
            self._expect_keyword("BY")
            query.order_by = self._order_list()
        if self._accept_keyword("LIMIT"):
            query.limit = self._integer("LIMIT")
        if self._accept_keyword("OFFSET"):
            query.offset = self._integer("OFFSET")
        if self._peek() is not None:
            token = self._peek()
            raise malformed(
                f"unexpected token: '{token.text}' at position {token.position}"
            )
        return query

    def _select_list(self):
        if self._peek_keyword("COUNT"):
            self.index += 1
            self._expect_punct("(")
            self._expect_punct(")")
            return [], True
        fields = [self._name("a field name after SELECT")]
        while self._accept_punct(","):
            fields.append(self._name("a field name after ','"))
        return fields, False

    def _expression(self):
        operands = [self._term()]
        operator = None
        while self._peek_keyword("AND") or self._peek_keyword("OR"):
            current = self._next().upper
            if operator and current != operator:
                raise malformed(
                    "unexpected token: 'AND'/'OR' mixed without parentheses"
                )
            operator = current
            operands.append(self._term())
        return operands[0] if operator is None else BoolOp(operator, operands)

    def _term(self):
        if self._accept_keyword("NOT"):
            return BoolOp("NOT", [self._term()])
        if self._accept_punct("("):
            inner = self._expression()
            self._expect_punct(")")
            return inner
        return self._condition()

    def _condition(self):
        name = self._name("a field name in WHERE")
        if self._accept_keyword("NOT"):
            self._expect_keyword("IN")
            return Condition(name, "NOT IN", self._literal_list())
        if self._accept_keyword("IN"):
            return Condition(name, "IN", self._literal_list())
        if self._accept_keyword("LIKE"):
            value = self._literal()
            if value.kind != "string":
                raise malformed("LIKE needs a quoted string")
            return Condition(name, "LIKE", value)
        token = self._next()
        if token is None or token.kind != "operator":
            found = token.text if token else "end of query"
            raise malformed(
                f"expected a comparison operator after {name}, got '{found}'"
            )
        operator = "!=" if token.text == "<>" else token.text
        return Condition(name, operator, self._literal())

    def _literal_list(self):
        self._expect_punct("(")
        values = [self._literal()]
        while self._accept_punct(","):
            values.append(self._literal())
        self._expect_punct(")")
        return values

    def _literal(self):
        token = self._next()
        if token is None:
            raise malformed("expected a value, got end of query")
        if token.kind == "string":
            return Literal("string", _unquote(token.text))
        if token.kind == "number":
            return Literal("number", float(token.text))
        if token.kind == "datetime":
            return Literal("datetime", parse_iso(token.text))
        if token.kind == "date":
            return Literal("date", date.fromisoformat(token.text))
        if token.kind == "name" and token.upper in ("TRUE", "FALSE"):
            return Literal("boolean", token.upper == "TRUE")
        if token.kind == "name" and token.upper == "NULL":
            return Literal("null", None)
        raise malformed(
            f"unexpected token: '{token.text}' at position {token.position}; the "
            "emulator supports string, number, boolean, null, date and datetime "
            "literals only"
        )

    def _order_list(self):
        items = [self._order_item()]
        while self._accept_punct(","):
            items.append(self._order_item())
        return items

    def _order_item(self):
        name = self._name("a field name in ORDER BY")
        descending = False
        if self._accept_keyword("DESC"):
            descending = True
        else:
            self._accept_keyword("ASC")
        nulls_first = not descending
        if self._accept_keyword("NULLS"):
            if self._accept_keyword("FIRST"):
                nulls_first = True
            else:
                self._expect_keyword("LAST")
                nulls_first = False
        return OrderItem(name, descending, nulls_first)

    def _integer(self, clause):
        token = self._next()
        if token is None or token.kind != "number" or "." in token.text:
            raise malformed(f"{clause} needs a whole number")
        return int(token.text)

    def _name(self, expected):
        token = self._next()
        if token is None or token.kind != "name" or token.upper in _KEYWORDS:
            found = token.text if token else "end of query"
            raise malformed(f"expected {expected}, got '{found}'")
        return token.text

    def _peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def _next(self):
        token = self._peek()
        if token is not None:
            self.index += 1
        return token

    def _peek_keyword(self, keyword):
        token = self._peek()
        return token is not None and token.kind == "name" and token.upper == keyword

    def _accept_keyword(self, keyword):
        if self._peek_keyword(keyword):
            self.index += 1
            return True
        return False

    def _expect_keyword(self, keyword):
        if not self._accept_keyword(keyword):
            token = self._peek()
            found = token.text if token else "end of query"
            raise malformed(f"expected {keyword}, got '{found}'")

    def _accept_punct(self, char):
        token = self._peek()
        if token is not None and token.kind == "punct" and token.text == char:
            self.index += 1
            return True
        return False

    def _expect_punct(self, char):
        if not self._accept_punct(char):
            token = self._peek()
            found = token.text if token else "end of query"
            raise malformed(f"expected '{char}', got '{found}'")


def _unquote(text):
    body = text[1:-1]
    return re.sub(
        r"\\(.)", lambda match: _ESCAPES.get(match.group(1), match.group(1)), body
    )


def parse(text):
    """Parse a SOQL statement of the supported subset."""
    if not text or not text.strip():
        raise malformed("the query is empty")
    return Parser(text).parse()
