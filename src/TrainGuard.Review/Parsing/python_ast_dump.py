# TrainGuard review: the fallback Python parser. Run as /usr/bin/python3 -I -S -c <this text> (isolated, no site
# import, so nothing of any environment is imported), with a working directory outside the reviewed repository. It
# never imports, compiles to byte-code or runs the source it reads: ast.parse only builds the syntax tree.
#
# Protocol on standard input/output: frames of a 4-byte big-endian length and that many bytes. Each request is the
# source of one file (UTF-8); each answer is one JSON document: the reduced tree (PyNode: [kind, line, name, value,
# [children]]), or {"error": message, "line": n}. The process ends at the end of its input.
import ast
import json
import sys

LIMIT = 64 * 1024 * 1024
OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
    ast.LShift: "<<", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.MatMult: "@",
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Is: "is",
    ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.And: "and", ast.Or: "or", ast.Not: "not",
    ast.USub: "-", ast.UAdd: "+", ast.Invert: "~",
}


def op(o):
    return OPS.get(type(o), "?")


def n(kind, node, name=None, value=None, children=()):
    return [kind, getattr(node, "lineno", 0), name, value, list(children)]


def block(body, line):
    return ["Block", line, None, None, [conv(s) for s in body]]


def conv(node):
    t = type(node)
    if t is ast.Call:
        kids = [conv(node.func)] + [conv(a) for a in node.args]
        kids += [["Keyword", getattr(k, "lineno", node.lineno), k.arg, None, [conv(k.value)]] for k in node.keywords]
        return n("Call", node, children=kids)
    if t is ast.Attribute:
        return n("Attribute", node, node.attr, None, [conv(node.value)])
    if t is ast.Name:
        return n("Name", node, node.id)
    if t is ast.Constant:
        v = node.value
        if isinstance(v, bool) or v is None:
            return n("Const", node, str(v))
        if isinstance(v, (int, float, complex)):
            return n("Num", node, None, repr(v))
        if isinstance(v, bytes):
            return n("Str", node, None, v.decode("latin-1"))
        if isinstance(v, str):
            return n("Str", node, None, v)
        return n("Const", node, "Ellipsis")
    if t is ast.JoinedStr:
        return n("FString", node, children=[conv(v.value) for v in node.values if isinstance(v, ast.FormattedValue)])
    if t is ast.Assign:
        return n("Assign", node, children=[conv(x) for x in node.targets] + [conv(node.value)])
    if t is ast.AnnAssign:
        return n("Assign", node, children=[conv(node.target)] + ([conv(node.value)] if node.value is not None else []))
    if t is ast.AugAssign:
        return n("AugAssign", node, op(node.op) + "=", None, [conv(node.target), conv(node.value)])
    if t in (ast.If, ast.While):
        kids = [conv(node.test), block(node.body, node.lineno)]
        if node.orelse:
            kids.append(block(node.orelse, node.orelse[0].lineno))
        return n("If" if t is ast.If else "While", node, children=kids)
    if t in (ast.For, ast.AsyncFor):
        kids = [conv(node.target), conv(node.iter), block(node.body, node.lineno)]
        if node.orelse:
            kids.append(block(node.orelse, node.orelse[0].lineno))
        return n("For", node, children=kids)
    if t in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
        return n("ClassDef" if t is ast.ClassDef else "FunctionDef", node, node.name, None,
                 [block(node.body, node.lineno)] + [conv(d) for d in node.decorator_list])
    if t is ast.Compare:
        return n("Compare", node, ",".join(op(o) for o in node.ops), None, [conv(node.left)] + [conv(c) for c in node.comparators])
    if t is ast.UnaryOp:
        return n("UnaryOp", node, op(node.op), None, [conv(node.operand)])
    if t is ast.BinOp:
        return n("BinOp", node, op(node.op), None, [conv(node.left), conv(node.right)])
    if t is ast.BoolOp:
        return n("BoolOp", node, op(node.op), None, [conv(v) for v in node.values])
    if t is ast.Subscript:
        return n("Subscript", node, children=[conv(node.value), conv(node.slice)])
    if t is ast.Import:
        return n("Import", node, children=[["Alias", node.lineno, a.name, a.asname, []] for a in node.names])
    if t is ast.ImportFrom:
        module = "." * (node.level or 0) + (node.module or "")
        return n("ImportFrom", node, None, module, [["Alias", node.lineno, a.name, a.asname, []] for a in node.names])
    if t is ast.Module:
        return ["Module", 1, None, None, [block(node.body, 1)]]
    if t is ast.Expr:
        return n("Expr", node, children=[conv(node.value)])
    if t is ast.Starred:
        return n("Starred", node, children=[conv(node.value)])
    if t in (ast.Try, getattr(ast, "TryStar", ast.Try)):
        kids = [block(node.body, node.lineno)]
        kids += [block(h.body, h.lineno) for h in node.handlers]
        if node.orelse:
            kids.append(block(node.orelse, node.orelse[0].lineno))
        if node.finalbody:
            kids.append(block(node.finalbody, node.finalbody[0].lineno))
        return n("Try", node, children=kids)
    if t in (ast.With, ast.AsyncWith):
        kids = [conv(i.context_expr) for i in node.items] + [conv(i.optional_vars) for i in node.items if i.optional_vars is not None]
        return n("With", node, children=kids + [block(node.body, node.lineno)])
    kids = []
    for _, value in ast.iter_fields(node):
        if isinstance(value, ast.AST):
            if not isinstance(value, (ast.expr_context, ast.operator, ast.cmpop, ast.unaryop, ast.boolop)):
                kids.append(conv(value))
        elif isinstance(value, list):
            kids.extend(conv(v) for v in value if isinstance(v, ast.AST))
    return n(t.__name__, node, children=kids)


def read_exact(stream, size):
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def main():
    sys.setrecursionlimit(20000)
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = read_exact(stdin, 4)
        if header is None:
            return
        size = int.from_bytes(header, "big")
        if size > LIMIT:
            return
        source = read_exact(stdin, size) or b""
        try:
            answer = conv(ast.parse(source, "<reviewed>", "exec"))
        except SyntaxError as e:
            answer = {"error": str(e.msg), "line": e.lineno or 0}
        except (ValueError, RecursionError, MemoryError) as e:
            answer = {"error": type(e).__name__ + ": " + str(e)[:200], "line": 0}
        data = json.dumps(answer, separators=(",", ":"), ensure_ascii=True).encode("ascii")
        stdout.write(len(data).to_bytes(4, "big"))
        stdout.write(data)
        stdout.flush()


main()
