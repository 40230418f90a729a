"""The warehouse honours the design's contract: `docs/design/warehouse_ddl.sql` (a verbatim copy of the shared
design folder's `warehouse_ddl.sql`, checked against it when that folder is next to the repo).

The design (DESIGN: StreamFlow Analytics, "SQL Schema Design") lists the bronze, silver and gold tables. A freshly
migrated database must have:

- every design table, and every design column under its name, with a compatible type (see `compatible`);
- every design NOT NULL column NOT NULL (a PRIMARY KEY column counts as NOT NULL);
- the design's primary key as the table's primary key;
- each design UNIQUE (inline or table-level) as a unique constraint or unique index on exactly those columns;
- each design REFERENCES as a foreign key from that column to the referenced table and column;
- for each design CHECK, a check constraint on the table mentioning the same column(s).

Additions are allowed: extra tables, columns, constraints and indexes are never reported, and the design's
DEFAULTs and indexes are not compared. Each DB-facing test reports every problem of its kind at once.

The parser and `compatible` are pure Python and have their own unit tests below, which need no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from streamflow.config import Settings

REPO = Path(__file__).resolve().parents[2]
DESIGN_DDL = REPO / "docs/design/warehouse_ddl.sql"  # vendored, so the contract runs wherever the repo does
SHARED_DDL = REPO.parent / "shared/design/warehouse_ddl.sql"  # the original, when checked out next to the repo


# ----------------------------------------------------------------------------------------------------------------
# The design's DDL, parsed
# ----------------------------------------------------------------------------------------------------------------


@dataclass
class Column:
    name: str
    type: str  # normalized as written: "numeric(4,3)", "varchar(100)", "bigserial", "text[]"
    not_null: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    ref_table: str  # "schema.table"
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Check:
    name: str | None
    expression: str
    columns: tuple[str, ...]  # the table's columns the expression mentions


@dataclass
class Table:
    schema: str
    name: str
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    uniques: list[tuple[str, ...]] = field(default_factory=list)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


_CREATE_TABLE = re.compile(
    r"\bCREATE\s+(?:(?:UNLOGGED|TEMP|TEMPORARY)\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:(\w+)\.)?(\w+)\s*\(", re.I
)
_ANY_CREATE_TABLE = re.compile(r"\bCREATE\s+(?:\w+\s+)?TABLE\b", re.I)
_TYPE = (
    r"(?:double\s+precision|character\s+varying|(?:timestamp|time)\s+with(?:out)?\s+time\s+zone|\w+)"
    r"(?:\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\s*\[\s*\])*"
)
_COLUMN = re.compile(rf"(\w+)\s+({_TYPE})(.*)", re.I | re.S)
_TABLE_CONSTRAINT = re.compile(r"(?:CONSTRAINT\s+(\w+)\s+)?(PRIMARY\s+KEY|UNIQUE|CHECK|FOREIGN\s+KEY)\s*\(", re.I)
_REFERENCES = re.compile(
    r"REFERENCES\s+(?:(\w+)\.)?(\w+)\s*\(([\w\s,]+)\)(?:\s+ON\s+(?:DELETE|UPDATE)\s+(?:SET\s+\w+|NO\s+ACTION|\w+))*",
    re.I,
)
# A DEFAULT expression: a string literal, or a word/number optionally called with flat arguments, optionally cast.
_DEFAULT = re.compile(r"DEFAULT\s+('(?:[^']|'')*'|[\w.+-]+(?:\s*\([^()]*\))?)(?:::\w+)?", re.I)


def strip_comments(sql: str) -> str:
    "`sql` without `/* */` comments and `--` comments (to the end of the line); string literals are left alone."
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.S)
    lines = []
    for line in sql.splitlines():
        in_string = False
        for i, ch in enumerate(line):
            if ch == "'":
                in_string = not in_string
            elif not in_string and line.startswith("--", i):
                line = line[:i]
                break
        lines.append(line.rstrip())
    return "\n".join(lines)


def _closing_paren(text: str, open_at: int) -> int:
    "Index of the `)` matching the `(` at `open_at` (parentheses inside string literals don't count)."
    depth, in_string = 0, False
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "'":
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    raise ValueError(f"unbalanced parentheses in {text[open_at : open_at + 80]!r}...")


def _split_top_level(body: str) -> list[str]:
    "The comma-separated items of a CREATE TABLE body; commas inside parentheses (NUMERIC(4,3)) or strings don't split."
    items, depth, in_string, start = [], 0, False, 0
    for i, ch in enumerate(body):
        if ch == "'":
            in_string = not in_string
        elif in_string:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(body[start:i])
            start = i + 1
    items.append(body[start:])
    return [" ".join(item.split()) for item in items if item.strip()]


def _names(text: str) -> tuple[str, ...]:
    return tuple(n.strip().lower() for n in text.split(","))


def _qualified(schema: str, name: str) -> str:
    return f"{schema.lower()}.{name.lower()}"


def normalize_type(sql_type: str) -> str:
    "Lowercase, single spaces, no spaces around `(`, `)`, `,`, `[`, `]`: 'NUMERIC( 4, 3 )' -> 'numeric(4,3)'."
    return re.sub(r"\s*([(),\[\]])\s*", r"\1", " ".join(sql_type.split()).lower())


def _parse_column(table: Table, item: str, checks: list[tuple[str | None, str]]) -> None:
    "One column definition: name, type, then any of NOT NULL, NULL, DEFAULT, PRIMARY KEY, UNIQUE, REFERENCES, CHECK."
    m = _COLUMN.fullmatch(item)
    if not m:
        raise ValueError(f"{table.qualified}: cannot read column definition {item!r}")
    col = Column(m[1].lower(), normalize_type(m[2]))
    if col.name in table.columns:
        raise ValueError(f"{table.qualified}: column {col.name} defined twice")
    table.columns[col.name] = col
    rest, constraint_name = m[3].strip(), None
    while rest:
        if c := re.match(r"NOT\s+NULL\b", rest, re.I):
            col.not_null = True
        elif c := re.match(r"NULL\b", rest, re.I):
            pass
        elif c := re.match(r"PRIMARY\s+KEY\b", rest, re.I):
            table.primary_key = (col.name,)
        elif c := re.match(r"UNIQUE\b", rest, re.I):
            table.uniques.append((col.name,))
        elif c := _REFERENCES.match(rest):
            table.foreign_keys.append(ForeignKey((col.name,), _qualified(c[1] or table.schema, c[2]), _names(c[3])))
        elif c := _DEFAULT.match(rest):
            col.default = c[0][len("DEFAULT") :].strip()
        elif c := re.match(r"CONSTRAINT\s+(\w+)", rest, re.I):  # names the next column constraint
            constraint_name = c[1]
            rest = rest[c.end() :].lstrip()
            continue
        elif c := re.match(r"CHECK\s*\(", rest, re.I):
            end = _closing_paren(rest, c.end() - 1)
            checks.append((constraint_name, rest[c.end() : end].strip()))
            rest = rest[end + 1 :].lstrip()
            constraint_name = None
            continue
        else:
            raise ValueError(f"{table.qualified}.{col.name}: cannot read {rest!r}")
        rest = rest[c.end() :].lstrip()
        constraint_name = None


def _parse_table_constraint(table: Table, m: re.Match, item: str, checks: list[tuple[str | None, str]]) -> None:
    "PRIMARY KEY (..), UNIQUE (..), CHECK (..) or FOREIGN KEY (..) REFERENCES .., optionally named by CONSTRAINT."
    end = _closing_paren(item, m.end() - 1)
    inside, after = item[m.end() : end].strip(), item[end + 1 :].strip()
    kind = " ".join(m[2].upper().split())
    if kind == "FOREIGN KEY":
        ref = _REFERENCES.fullmatch(after)
        if not ref:
            raise ValueError(f"{table.qualified}: cannot read {item!r}")
        table.foreign_keys.append(
            ForeignKey(_names(inside), _qualified(ref[1] or table.schema, ref[2]), _names(ref[3]))
        )
        return
    if after:
        raise ValueError(f"{table.qualified}: cannot read {after!r} after {item[: end + 1]!r}")
    if kind == "PRIMARY KEY":
        table.primary_key = _names(inside)
    elif kind == "UNIQUE":
        table.uniques.append(_names(inside))
    else:
        checks.append((m[1], inside))


def _check_columns(table: Table, expression: str) -> tuple[str, ...]:
    "The table's columns named in a CHECK expression (words inside string literals don't count)."
    words = re.findall(r"\b[a-z_]\w*\b", re.sub(r"'(?:[^']|'')*'", "''", expression.lower()))
    return tuple(dict.fromkeys(w for w in words if w in table.columns))


def parse_ddl(sql: str) -> dict[str, Table]:
    """The tables of a DDL script, by "schema.table".

    Reads every CREATE TABLE (other statements, e.g. CREATE SCHEMA and CREATE INDEX, are ignored): after stripping
    comments, the body between the table's parentheses is split on its top-level commas, and each item is either a
    table constraint (`[CONSTRAINT name] PRIMARY KEY|UNIQUE|CHECK|FOREIGN KEY (...)`) or a column definition (name,
    type, then NOT NULL / NULL / DEFAULT expr / PRIMARY KEY / UNIQUE / REFERENCES schema.table(col) / CHECK (...)).
    Inline PRIMARY KEY, UNIQUE and REFERENCES are recorded on the table like their table-level forms. Anything the
    parser does not understand raises ValueError rather than being skipped, so the contract never shrinks silently.
    """
    sql = strip_comments(sql)
    tables: dict[str, Table] = {}
    for m in _CREATE_TABLE.finditer(sql):
        table = Table((m[1] or "public").lower(), m[2].lower())
        if table.qualified in tables:
            raise ValueError(f"table {table.qualified} created twice")
        end = _closing_paren(sql, m.end() - 1)
        checks: list[tuple[str | None, str]] = []
        for item in _split_top_level(sql[m.end() : end]):
            if c := _TABLE_CONSTRAINT.match(item):
                _parse_table_constraint(table, c, item, checks)
            else:
                _parse_column(table, item, checks)
        table.checks = [Check(name, expr, _check_columns(table, expr)) for name, expr in checks]
        tables[table.qualified] = table
    if len(tables) != len(_ANY_CREATE_TABLE.findall(sql)):
        raise ValueError(f"found {len(_ANY_CREATE_TABLE.findall(sql))} CREATE TABLE statements, read {len(tables)}")
    return tables


# ----------------------------------------------------------------------------------------------------------------
# Type compatibility
# ----------------------------------------------------------------------------------------------------------------

_ALIASES = {
    "int2": "smallint",
    "smallserial": "smallint",
    "serial2": "smallint",
    "int": "integer",
    "int4": "integer",
    "serial": "integer",
    "serial4": "integer",
    "int8": "bigint",
    "bigserial": "bigint",
    "serial8": "bigint",
    "character varying": "varchar",
    "character": "char",
    "bpchar": "char",
    "decimal": "numeric",
    "bool": "boolean",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamp",
    "float8": "double precision",
    "float4": "real",
}
_INTEGER_RANK = {"smallint": 1, "integer": 2, "bigint": 3}


@dataclass(frozen=True)
class SqlType:
    base: str  # canonical name: "integer", "varchar", "char", "numeric", "timestamptz", ...
    args: tuple[int, ...] = ()  # length, or precision and scale
    array: bool = False


def parse_type(sql_type: str) -> SqlType:
    "'VARCHAR(100)' -> SqlType('varchar', (100,)); 'character varying[]' -> SqlType('varchar', (), True); aliases resolved."
    m = re.fullmatch(r"([a-z_][a-z0-9_ ]*?)(?:\(([\d,]+)\))?((?:\[\])*)", normalize_type(sql_type))
    if not m:
        raise ValueError(f"cannot read type {sql_type!r}")
    base = _ALIASES.get(m[1], m[1])
    args = tuple(int(a) for a in m[2].split(",")) if m[2] else ()
    if base == "char" and not args:
        args = (1,)  # CHAR means CHAR(1)
    return SqlType(base, args, bool(m[3]))


def compatible(design: str, actual: str) -> bool:
    """Whether a column of type `actual` (in the database) can hold every value of the design's type `design`.

    - integers may widen: smallint <= integer <= bigint (SERIAL counts as integer, BIGSERIAL as bigint);
    - VARCHAR(n) accepts varchar(m) with m >= n, unbounded varchar, or text; CHAR(n) accepts the same or char(n);
    - NUMERIC(p,s) accepts numeric(p',s') with s' >= s and p'-s' >= p-s (as many digits on both sides of the point),
      or unconstrained numeric; an unconstrained design NUMERIC needs unconstrained numeric;
    - TEXT accepts text or unbounded varchar; TEXT[] accepts text[] or varchar[] (information_schema does not give
      the element length); other arrays need arrays of compatible elements;
    - anything else (JSONB, BOOLEAN, DATE, TIMESTAMPTZ, ...) needs exactly that type: json is not jsonb, timestamp
      is not timestamptz, double precision is not numeric.
    """
    d, a = parse_type(design), parse_type(actual)
    if d.array or a.array:
        if not (d.array and a.array):
            return False
        if d.base == "text":
            return a.base in ("text", "varchar")
        return compatible(_scalar(d), _scalar(a))
    if d.base in _INTEGER_RANK:
        return a.base in _INTEGER_RANK and _INTEGER_RANK[a.base] >= _INTEGER_RANK[d.base]
    if d.base in ("varchar", "char", "text"):
        if a.base == "text" or (a.base == "varchar" and not a.args):
            return True
        if a.base == "varchar":
            return d.base != "text" and bool(d.args) and a.args[0] >= d.args[0]
        return a.base == "char" and d.base == "char" and a.args == d.args
    if d.base == "numeric":
        if a.base != "numeric":
            return False
        if not a.args:
            return True
        if not d.args:
            return False
        (p, s), (p2, s2) = (d.args + (0,))[:2], (a.args + (0,))[:2]
        return s2 >= s and p2 - s2 >= p - s
    return d == a


def _scalar(t: SqlType) -> str:
    return f"{t.base}({','.join(map(str, t.args))})" if t.args else t.base


# ----------------------------------------------------------------------------------------------------------------
# The migrated database, read from the catalogs
# ----------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DbColumn:
    type: str  # built from information_schema: "varchar(100)", "numeric(4,3)", "text[]", "double precision"
    nullable: bool


@dataclass(frozen=True)
class DbConstraint:
    name: str
    kind: str  # pg_constraint.contype: p(rimary key), u(nique), f(oreign key), c(heck)
    columns: tuple[str, ...]
    ref_table: str | None
    ref_columns: tuple[str, ...]
    definition: str  # pg_get_constraintdef


@dataclass
class Warehouse:
    tables: dict[str, str]  # "schema.table" -> information_schema table_type ("BASE TABLE", "VIEW", ...)
    columns: dict[str, dict[str, DbColumn]]
    constraints: dict[str, list[DbConstraint]]
    unique_indexes: dict[str, list[tuple[str, ...]]]  # plain-column, non-partial unique indexes


def _db_type(data_type: str, udt_name: str, length: int | None, precision: int | None, scale: int | None) -> str:
    if data_type == "ARRAY":
        return f"{udt_name.lstrip('_')}[]"
    if data_type == "character varying":
        return f"varchar({length})" if length else "varchar"
    if data_type == "character":
        return f"char({length})"
    if data_type == "numeric":
        return f"numeric({precision},{scale})" if precision is not None else "numeric"
    if data_type == "USER-DEFINED":
        return udt_name
    return data_type


_TABLES = """
SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables WHERE table_schema = ANY(%s)
"""
_COLUMNS = """
SELECT table_schema || '.' || table_name, column_name, data_type, udt_name, character_maximum_length,
       numeric_precision, numeric_scale, is_nullable
FROM information_schema.columns WHERE table_schema = ANY(%s)
"""
_ATTNAMES = """ARRAY(SELECT a.attname FROM unnest({keys}) WITH ORDINALITY k(attnum, ord)
                JOIN pg_attribute a ON a.attrelid = {rel} AND a.attnum = k.attnum ORDER BY k.ord)::text[]"""
_CONSTRAINTS = f"""
SELECT n.nspname || '.' || c.relname, con.conname, con.contype,
       {_ATTNAMES.format(keys="con.conkey", rel="con.conrelid")},
       fn.nspname || '.' || fc.relname,
       {_ATTNAMES.format(keys="con.confkey", rel="con.confrelid")},
       pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE n.nspname = ANY(%s) AND con.contype IN ('p', 'u', 'f', 'c')
"""
_UNIQUE_INDEXES = """
SELECT n.nspname || '.' || c.relname,
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)::text[]
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY(%s) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
"""


def read_warehouse(conn: psycopg.Connection, schemas: list[str]) -> Warehouse:
    "Tables, columns, constraints and unique indexes of `schemas`, as the catalogs describe them."
    wh = Warehouse(dict(conn.execute(_TABLES, [schemas]).fetchall()), {}, {}, {})
    for table, name, data_type, udt, length, precision, scale, nullable in conn.execute(_COLUMNS, [schemas]):
        wh.columns.setdefault(table, {})[name] = DbColumn(
            _db_type(data_type, udt, length, precision, scale), nullable == "YES"
        )
    for table, name, kind, cols, ref_table, ref_cols, definition in conn.execute(_CONSTRAINTS, [schemas]):
        wh.constraints.setdefault(table, []).append(
            DbConstraint(name, kind, tuple(cols), ref_table, tuple(ref_cols), definition)
        )
    for table, cols in conn.execute(_UNIQUE_INDEXES, [schemas]):
        wh.unique_indexes.setdefault(table, []).append(tuple(cols))
    return wh


# ----------------------------------------------------------------------------------------------------------------
# The contract, on a freshly migrated database
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def design() -> dict[str, Table]:
    "The design's tables."
    return parse_ddl(DESIGN_DDL.read_text())


def test_vendored_design_is_the_shared_one():
    if not SHARED_DDL.is_file():
        pytest.skip(f"no shared design folder next to the repo ({SHARED_DDL})")
    assert DESIGN_DDL.read_text() == SHARED_DDL.read_text(), "docs/design/warehouse_ddl.sql drifted from the design"


@pytest.fixture
def warehouse(design: dict[str, Table], migrated_db: Settings) -> Warehouse:
    "The catalogs of a fresh database with every migration applied."
    from streamflow.warehouse import connect

    with connect(migrated_db) as conn:
        return read_warehouse(conn, sorted({t.schema for t in design.values()}))


def _fail_if(problems: list[str], kind: str) -> None:
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        pytest.fail(f"{len(problems)} {kind} problem(s) against the design ({DESIGN_DDL}):\n{listing}", pytrace=False)


def _present(design: dict[str, Table], wh: Warehouse) -> list[Table]:
    "The design tables the database has (missing ones are reported by test_tables_columns_and_types)."
    return [t for t in design.values() if t.qualified in wh.tables]


def _mentions(definition: str, columns: tuple[str, ...]) -> bool:
    "Whether a constraint definition names every one of `columns` (as a whole word)."
    return all(re.search(rf"\b{re.escape(c)}\b", definition) for c in columns)


def _cols(cols: tuple[str, ...]) -> str:
    return f"({', '.join(cols)})" if cols else "(none)"


def test_tables_columns_and_types(design, warehouse):
    problems = []
    for t in design.values():
        kind = warehouse.tables.get(t.qualified)
        if kind is None:
            problems.append(f"missing table {t.qualified}")
            continue
        if kind != "BASE TABLE":
            problems.append(f"{t.qualified} is a {kind.lower()}, not a table")
        actual = warehouse.columns.get(t.qualified, {})
        for col in t.columns.values():
            if col.name not in actual:
                problems.append(f"missing column {t.qualified}.{col.name}")
            elif not compatible(col.type, actual[col.name].type):
                problems.append(
                    f"{t.qualified}.{col.name}: type {actual[col.name].type} is not compatible with {col.type}"
                )
    _fail_if(problems, "table/column/type")


def test_nullability_and_keys(design, warehouse):
    problems = []
    for t in _present(design, warehouse):
        actual = warehouse.columns.get(t.qualified, {})
        for col in t.columns.values():
            if (col.not_null or col.name in t.primary_key) and col.name in actual and actual[col.name].nullable:
                problems.append(f"{t.qualified}.{col.name}: should be NOT NULL")
        constraints = warehouse.constraints.get(t.qualified, [])
        pk = next((c.columns for c in constraints if c.kind == "p"), ())
        if t.primary_key and pk != t.primary_key:
            problems.append(f"{t.qualified}: primary key should be {_cols(t.primary_key)}, is {_cols(pk)}")
        unique_sets = [set(c.columns) for c in constraints if c.kind in ("p", "u")]
        unique_sets += [set(cols) for cols in warehouse.unique_indexes.get(t.qualified, [])]
        for cols in t.uniques:
            if set(cols) not in unique_sets:
                problems.append(f"{t.qualified}: no unique constraint or unique index on exactly {_cols(cols)}")
    _fail_if(problems, "nullability/key")


def test_foreign_keys_and_checks(design, warehouse):
    problems = []
    for t in _present(design, warehouse):
        constraints = warehouse.constraints.get(t.qualified, [])
        fks = {(c.columns, c.ref_table, c.ref_columns) for c in constraints if c.kind == "f"}
        for fk in t.foreign_keys:
            if (fk.columns, fk.ref_table, fk.ref_columns) not in fks:
                problems.append(
                    f"{t.qualified}{_cols(fk.columns)}: no foreign key to {fk.ref_table}{_cols(fk.ref_columns)}"
                )
        check_defs = [c.definition for c in constraints if c.kind == "c"]
        for check in t.checks:
            if not any(_mentions(d, check.columns) for d in check_defs):
                problems.append(
                    f"{t.qualified}: no check constraint mentioning {', '.join(check.columns) or '(no column)'} "
                    f"(design: {check.name or 'CHECK'} ({check.expression}))"
                )
    _fail_if(problems, "foreign key/check")


# ----------------------------------------------------------------------------------------------------------------
# Unit tests of the parser and of `compatible` (no database)
# ----------------------------------------------------------------------------------------------------------------

TINY_DDL = """
CREATE SCHEMA IF NOT EXISTS s;
-- a comment with CREATE TABLE in it is not a table
CREATE TABLE s.parent (
    id    SERIAL PRIMARY KEY,  -- trailing comment, with, commas
    code  CHAR(3) NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS s.child (
    id          BIGSERIAL PRIMARY KEY,
    parent_id   INTEGER NOT NULL REFERENCES s.parent(id),
    score       NUMERIC(4,3) DEFAULT 0.0,
    label       VARCHAR(20) DEFAULT 'a, (b)',
    tags        TEXT[] NOT NULL,
    payload     JSONB,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),

    -- table constraints
    UNIQUE (parent_id, label),
    CONSTRAINT chk_score CHECK (score BETWEEN 0 AND 1)
);
CREATE INDEX idx_child ON s.child ((payload->>'x'));
"""


def test_parser_reads_columns_and_constraints():
    tables = parse_ddl(TINY_DDL)
    assert list(tables) == ["s.parent", "s.child"]
    parent, child = tables["s.parent"], tables["s.child"]
    assert parent.primary_key == ("id",) and parent.uniques == [("code",)]
    assert parent.columns["code"] == Column("code", "char(3)", not_null=True)
    assert [(c.name, c.type, c.not_null) for c in child.columns.values()] == [
        ("id", "bigserial", False),
        ("parent_id", "integer", True),
        ("score", "numeric(4,3)", False),
        ("label", "varchar(20)", False),
        ("tags", "text[]", True),
        ("payload", "jsonb", False),
        ("created_at", "timestamptz", True),
    ]
    assert child.columns["label"].default == "'a, (b)'" and child.columns["created_at"].default == "NOW()"
    assert child.primary_key == ("id",)
    assert child.uniques == [("parent_id", "label")]
    assert child.foreign_keys == [ForeignKey(("parent_id",), "s.parent", ("id",))]
    assert child.checks == [Check("chk_score", "score BETWEEN 0 AND 1", ("score",))]


def test_parser_reads_table_level_keys_and_inline_checks():
    tables = parse_ddl("""CREATE TABLE t (
        a int, b int CONSTRAINT b_pos CHECK (b > 0) NOT NULL,
        PRIMARY KEY (a, b), FOREIGN KEY (b) REFERENCES x.y (z) ON DELETE CASCADE)""")
    t = tables["public.t"]
    assert t.primary_key == ("a", "b") and t.columns["b"].not_null
    assert t.checks == [Check("b_pos", "b > 0", ("b",))]
    assert t.foreign_keys == [ForeignKey(("b",), "x.y", ("z",))]


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE s.t (a int GENERATED ALWAYS AS IDENTITY)",  # an unknown column clause
        'CREATE TABLE s.t ("quoted" int)',  # quoted identifiers are not supported
        "CREATE TABLE s.t (a int, EXCLUDE USING gist (a WITH =))",
        "CREATE TABLE s.t AS SELECT 1",  # a CREATE TABLE the parser does not read
    ],
)
def test_parser_refuses_what_it_does_not_understand(ddl):
    with pytest.raises(ValueError):
        parse_ddl(ddl)


def test_parser_reads_the_whole_design():
    if not DESIGN_DDL.is_file():
        pytest.skip(f"design DDL not found at {DESIGN_DDL}")
    tables = parse_ddl(DESIGN_DDL.read_text())
    assert sorted(tables) == [
        "bronze.raw_fraud_alerts",
        "bronze.raw_transactions",
        "gold.agg_daily_fraud",
        "gold.agg_hourly_sales",
        "gold.dim_customer",
        "gold.dim_date",
        "gold.dim_product",
        "gold.dim_store",
        "gold.fact_fraud_alerts",
        "gold.fact_transactions",
        "silver.clean_transactions",
        "silver.customers",
        "silver.products",
        "silver.stores",
    ]
    assert all(t.primary_key for t in tables.values())
    assert tables["bronze.raw_transactions"].uniques == [("kafka_topic", "kafka_partition", "kafka_offset")]
    assert tables["gold.dim_date"].columns["date_key"].type == "integer"
    assert tables["gold.fact_fraud_alerts"].columns["rules_triggered"] == Column("rules_triggered", "text[]", True)
    assert [c.columns for c in tables["silver.clean_transactions"].checks] == [("amount",), ("fraud_score",)]
    assert [(f.columns[0], f.ref_table) for f in tables["gold.fact_transactions"].foreign_keys] == [
        ("date_key", "gold.dim_date"),
        ("customer_key", "gold.dim_customer"),
        ("store_key", "gold.dim_store"),
        ("product_key", "gold.dim_product"),
    ]
    assert tables["gold.agg_daily_fraud"].uniques == [("date_key",)]


@pytest.mark.parametrize(
    "design_type, actual, ok",
    [
        ("SMALLINT", "smallint", True),
        ("SMALLINT", "bigint", True),
        ("INTEGER", "smallint", False),
        ("SERIAL", "integer", True),
        ("SERIAL", "bigint", True),
        ("BIGSERIAL", "bigint", True),
        ("BIGSERIAL", "integer", False),
        ("BIGINT", "numeric", False),
        ("VARCHAR(100)", "varchar(100)", True),
        ("VARCHAR(100)", "varchar(200)", True),
        ("VARCHAR(100)", "varchar(50)", False),
        ("VARCHAR(100)", "text", True),
        ("VARCHAR(100)", "varchar", True),
        ("VARCHAR(3)", "char(3)", False),
        ("CHAR(3)", "char(3)", True),
        ("CHAR(3)", "char(2)", False),
        ("CHAR(3)", "varchar(3)", True),
        ("CHAR(2)", "text", True),
        ("TEXT", "varchar(100)", False),
        ("numeric(4,3)", "numeric(5,3)", True),
        ("numeric(4,3)", "numeric(4,3)", True),
        ("numeric(4,3)", "numeric(5,4)", True),
        ("numeric(4,3)", "numeric(4,4)", False),
        ("numeric(4,3)", "numeric(5,2)", False),
        ("numeric(12,2)", "numeric(14,2)", True),
        ("numeric(12,2)", "numeric(10,2)", False),
        ("numeric(4,3)", "numeric", True),
        ("numeric", "numeric(20,5)", False),
        ("numeric(4,3)", "double precision", False),
        ("TEXT[]", "text[]", True),
        ("TEXT[]", "varchar[]", True),
        ("TEXT[]", "text", False),
        ("TEXT", "text[]", False),
        ("JSONB", "jsonb", True),
        ("JSONB", "json", False),
        ("JSONB", "text", False),
        ("BOOLEAN", "boolean", True),
        ("BOOLEAN", "smallint", False),
        ("DATE", "date", True),
        ("DATE", "timestamp with time zone", False),
        ("TIMESTAMPTZ", "timestamp with time zone", True),
        ("TIMESTAMPTZ", "timestamp without time zone", False),
    ],
)
def test_compatible(design_type, actual, ok):
    assert compatible(design_type, actual) is ok


# ----------------------------------------------------------------------------------------------------------------
# Content: the pipeline fills what the design's columns mean
# ----------------------------------------------------------------------------------------------------------------

# Design columns a generated history leaves at their default everywhere, and why; every other design column must
# hold at least one value and not only its default.
EXPECTED_DEFAULT = {
    "silver.clean_transactions.currency": "the generator sells in BRL only (the default)",
    "silver.clean_transactions.is_valid": "invalid events are dead-lettered before bronze; a flagged silver row "
                                          "needs a write that bypasses the transaction-processor",
}


def test_a_generated_history_fills_every_design_column(design, migrated_db):
    from streamflow.batch import refresh
    from streamflow.bench_fixtures import load_bronze
    from streamflow.warehouse import connect, dsn_for, seed
    from streamflow.world import configured_world

    seed(migrated_db, configured_world(migrated_db, 7))
    load_bronze(migrated_db, 3000, 7, alerts="scorer")  # what the stream writes, the rule engine's alerts
    refresh(dsn_for(migrated_db, "transform"), migrated_db, {"settle_seconds": 0})
    empty, defaulted = [], []
    with connect(migrated_db) as conn:
        for t in design.values():
            for c in t.columns.values():
                col, table = sql.Identifier(c.name), sql.Identifier(t.schema, t.name)
                if c.default is None or c.default.upper() == "NOW()":
                    q = sql.SQL("SELECT count({c}), false FROM {t}").format(c=col, t=table)
                else:  # every value equal to the default ('normal', 0, FALSE, 1, 'BRL', in the column's type)
                    q = sql.SQL("SELECT count({c}), coalesce(bool_and({c} = {d}), false) FROM {t}").format(
                        c=col, t=table, d=sql.SQL(c.default))
                n, all_default = conn.execute(q).fetchone()
                name = f"{t.qualified}.{c.name}"
                if n == 0:
                    empty.append(name)
                elif all_default and name not in EXPECTED_DEFAULT:
                    defaulted.append(f"{name} (all {c.default})")
    assert not empty, f"design columns left all NULL by the pipeline: {empty}"
    assert not defaulted, f"design columns left at their default by the pipeline: {defaulted}"
