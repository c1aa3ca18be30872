#!/usr/bin/python3
"""Derive which importable Python callables reach a dangerous sink, from source, without importing anything.

    /usr/bin/python3 src/TrainGuard.Scanning/Rules/derived/derive.py            # Debian's CPython, torch, numpy
    /usr/bin/python3 derive.py --source stdlib=/path/lib/python3.12 --source torch=/path/site-packages/torch \
        --source numpy=/path/site-packages/numpy --label cpython-3.12_torch-2.6_numpy-2.2

A pickle can call any importable callable. The hand-kept rules (pickle-globals.yaml) name the obvious ones; this
generator finds the rest: standard-library, torch and numpy functions and classes that start a process, run code,
write files, open network connections, import by a computed name or deserialise a nested pickle *with an argument
the caller chooses*, within a few calls. It parses every .py file with `ast` (never imports or runs it), builds a
call graph (module functions, classes and their methods, imports and aliases resolved per module and per function,
`self.method()` within a class and its resolvable bases, `Class(...)` as `Class.__init__`/`__new__`), tracks inside
each function which local values derive from which parameters, and propagates backwards from the sinks (SEEDS
below): a function reaches a sink when it passes a value derived from one of its parameters to a parameter that
reaches it, at most MAX_DEPTH calls away. Its output is one JSON file per supported version set: for each callable
the category, the rule, the call path that reaches the sink (the provenance shown in findings) and the parameters
that reach it; callables that deserialise an argument also give its position, so the scanner analyses that
argument as a nested pickle.

Deterministic: the same sources give byte-identical output.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import json
import os
import sys
from pathlib import Path

MAX_DEPTH = 4
HERE = Path(__file__).resolve().parent

# Sinks: callable -> (category, parameter positions that matter; None = any argument).
CATEGORY_RULE = {
    "process": "TG-PKL-001",
    "code": "TG-PKL-002",
    "import": "TG-PKL-003",
    "deserialize": "TG-PKL-005",
    "file-write": "TG-PKL-006",
    "network": "TG-PKL-007",
}

SEEDS: dict[str, tuple[str, tuple[int, ...] | None]] = {}


def _seed(category: str, names: str, positions: tuple[int, ...] | None = (0,)) -> None:
    for name in names.split():
        SEEDS[name] = (category, positions)


_seed("process", "os.system os.popen posix.system _posixsubprocess.fork_exec pty.spawn os.startfile")
_seed("process", "os.execl os.execle os.execlp os.execlpe os.execv os.execve os.execvp os.execvpe "
                 "os.spawnl os.spawnle os.spawnlp os.spawnlpe os.spawnv os.spawnve os.spawnvp os.spawnvpe "
                 "os.posix_spawn os.posix_spawnp posix.execv posix.execve posix.posix_spawn posix.posix_spawnp", None)
_seed("process", "subprocess.Popen subprocess.run subprocess.call subprocess.check_call subprocess.check_output "
                 "subprocess.getoutput subprocess.getstatusoutput asyncio.create_subprocess_exec "
                 "asyncio.create_subprocess_shell", None)
_seed("code", "builtins.exec builtins.eval", (0,))
_seed("code", "types.FunctionType ctypes.CDLL ctypes.cdll.LoadLibrary ctypes.PyDLL _ctypes.dlopen", (0,))
_seed("import", "builtins.__import__ importlib.import_module importlib.__import__ importlib._bootstrap._gcd_import", (0,))
_seed("deserialize", "pickle.loads pickle.load _pickle.loads _pickle.load pickle._loads pickle._load marshal.loads "
                     "marshal.load torch.load torch.serialization.load", (0,))
_seed("deserialize", "pickle.Unpickler _pickle.Unpickler pickle._Unpickler", (0,))
_seed("file-write", "os.remove os.unlink os.rmdir os.removedirs os.truncate os.chmod os.chown os.lchown "
                    "shutil.rmtree shutil.chown os.mkfifo os.mknod", (0,))
_seed("file-write", "os.rename os.replace os.renames os.symlink os.link shutil.move shutil.copy shutil.copy2 "
                    "shutil.copyfile shutil.copytree shutil.copyfileobj", (1,))
_seed("network", "socket.socket.connect socket.create_connection socket.create_server urllib.request.urlopen "
                 "urllib.request.urlretrieve http.client.HTTPConnection http.client.HTTPSConnection "
                 "ftplib.FTP smtplib.SMTP telnetlib.Telnet", (0,))

WRITE_MODES = set("wax+")
BUILTIN_NAMES = set(dir(builtins))
# The categories whose derived callables a scanner treats as a nested pickle loader.
NESTED = "deserialize"


class Function:
    __slots__ = ("qualname", "params", "calls", "module", "cls", "node")

    def __init__(self, qualname: str, module: "Module", cls: str | None, node: ast.AST, params: list[str]):
        self.qualname = qualname
        self.module = module
        self.cls = cls
        self.node = node
        self.params = params
        # (callee qualname, {callee position or keyword: set of own params the argument derives from}, line)
        self.calls: list[tuple[str, dict, int]] = []


class Module:
    def __init__(self, name: str, path: Path, tree: ast.Module, is_package: bool):
        self.name = name
        self.path = path
        self.tree = tree
        self.is_package = is_package
        self.aliases: dict[str, str] = {}     # local name -> dotted target
        self.defs: dict[str, str] = {}        # top-level def/class name -> qualname
        self.classes: dict[str, ast.ClassDef] = {}
        self.star: list[str] = []             # modules imported with `from m import *`, searched last


def module_name(root: Path, prefix: str, path: Path) -> tuple[str, bool]:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    name = ".".join(([prefix] if prefix else []) + parts)
    return name, is_package


def resolve_relative(module: Module, level: int, target: str | None) -> str:
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def collect_imports(module: Module, body: list[ast.stmt], into: dict[str, str]) -> None:
    for node in body:
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else [node]:
            if isinstance(sub, ast.Import):
                for a in sub.names:
                    if a.asname:
                        into[a.asname] = a.name
                    else:
                        into[a.name.split(".")[0]] = a.name.split(".")[0]
            elif isinstance(sub, ast.ImportFrom):
                src = resolve_relative(module, sub.level, sub.module) if sub.level else (sub.module or "")
                for a in sub.names:
                    if a.name != "*":
                        into[a.asname or a.name] = f"{src}.{a.name}"
                    elif into is module.aliases and src not in module.star:
                        module.star.append(src)


def param_names(args: ast.arguments) -> list[str]:
    names = [a.arg for a in args.posonlyargs + args.args]
    if args.vararg:
        names.append("*" + args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append("**" + args.kwarg.arg)
    return names


def names_in(expr: ast.AST | None) -> set[str]:
    if expr is None:
        return set()
    out = set()
    for n in ast.walk(expr):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            out.add("self." + n.attr)
    return out


def dotted(expr: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(expr, ast.Attribute):
        parts.append(expr.attr)
        expr = expr.value
    if isinstance(expr, ast.Name):
        parts.append(expr.id)
        return parts[::-1]
    return None


class Corpus:
    def __init__(self) -> None:
        self.modules: dict[str, Module] = {}
        self.functions: dict[str, Function] = {}
        self.class_bases: dict[str, list[str]] = {}

    def load(self, root: Path, prefix: str) -> None:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d.isidentifier() and d not in ("site-packages", "dist-packages"))
            if dirpath != str(root) and "__init__.py" not in filenames and prefix:
                dirnames[:] = []
                continue
            for f in sorted(filenames):
                if not f.endswith(".py"):
                    continue
                path = Path(dirpath) / f
                name, is_package = module_name(root, prefix, path)
                if not all(p.isidentifier() for p in name.split(".")):
                    continue
                try:
                    tree = ast.parse(path.read_bytes(), filename=str(path))
                except (SyntaxError, ValueError):
                    continue
                self.modules[name] = Module(name, path, tree, is_package)

    def index(self) -> None:
        for module in self.modules.values():
            collect_imports(module, module.tree.body, module.aliases)
            for node in module.tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    module.defs[node.name] = f"{module.name}.{node.name}"
                elif isinstance(node, ast.ClassDef):
                    q = f"{module.name}.{node.name}"
                    module.defs[node.name] = q
                    module.classes[node.name] = node
                elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    d = dotted(node.value)
                    if d:
                        module.aliases.setdefault(node.targets[0].id, ".".join(d))
        for module in self.modules.values():
            for node in module.tree.body:
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    self.add_function(module, None, node)
                elif isinstance(node, ast.ClassDef):
                    q = f"{module.name}.{node.name}"
                    self.class_bases[q] = [b for b in (self.resolve(module, {}, base) for base in node.bases) if b]
                    for item in node.body:
                        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            self.add_function(module, q, item)

    def add_function(self, module: Module, cls: str | None, node) -> None:
        qualname = f"{cls or module.name}.{node.name}"
        self.functions[qualname] = Function(qualname, module, cls, node, param_names(node.args))

    def canonical(self, name: str, depth: int = 0) -> str:
        """Follows module-level aliases (`loads = _loads`, `from x import y`) to where a name is defined."""
        if depth > 8 or name in self.functions or name in self.class_bases or name in SEEDS:
            return name
        head, _, tail = name.rpartition(".")
        while head:
            module = self.modules.get(head)
            if module is not None:
                first, _, rest = tail.partition(".")
                target = module.defs.get(first) or module.aliases.get(first)
                for star in module.star if target is None and depth < 4 else []:
                    starred = self.modules.get(star)
                    if starred is not None and (first in starred.defs or first in starred.aliases):
                        target = f"{star}.{first}"
                        break
                if target and target != name:
                    return self.canonical(target + ("." + rest if rest else ""), depth + 1)
                return name
            head, _, last = head.rpartition(".")
            tail = f"{last}.{tail}"
        return name

    def resolve(self, module: Module, local_aliases: dict[str, str], expr: ast.AST, cls: str | None = None) -> str | None:
        parts = dotted(expr)
        if not parts:
            return None
        head = parts[0]
        if head == "self" and cls and len(parts) == 2:
            return self.method(cls, parts[1])
        if head in local_aliases:
            base = local_aliases[head]
        elif head in module.defs:
            base = module.defs[head]
        elif head in module.aliases:
            base = module.aliases[head]
        elif head in BUILTIN_NAMES:
            base = "builtins." + head
        else:
            base = next((f"{star}.{head}" for star in module.star
                         if star in self.modules and (head in self.modules[star].defs or head in self.modules[star].aliases)), None)
            if base is None:
                return None
        return self.canonical(".".join([base] + parts[1:]))

    def method(self, cls: str, name: str, depth: int = 0) -> str | None:
        q = f"{cls}.{name}"
        if q in self.functions:
            return q
        if depth > 6:
            return None
        for base in self.class_bases.get(cls, []):
            found = self.method(self.canonical(base), name, depth + 1)
            if found:
                return found
        return None

    def analyse(self) -> None:
        for fn in self.functions.values():
            self.analyse_function(fn)

    def analyse_function(self, fn: Function) -> None:
        module = fn.module
        local_aliases: dict[str, str] = {}
        collect_imports(module, fn.node.body, local_aliases)
        for sub in ast.walk(fn.node):
            if isinstance(sub, (ast.Import, ast.ImportFrom)):
                collect_imports(module, [sub], local_aliases)
        derive: dict[str, set[str]] = {p.lstrip("*"): {p.lstrip("*")} for p in fn.params if p.lstrip("*") not in ("self", "cls")}

        def sources(expr) -> set[str]:
            out: set[str] = set()
            for n in names_in(expr):
                out |= derive.get(n, set())
            return out

        assigns = [n for n in ast.walk(fn.node) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.withitem, ast.NamedExpr))]
        for _ in range(3):
            for n in assigns:
                if isinstance(n, ast.Assign):
                    value, targets = n.value, n.targets
                elif isinstance(n, (ast.AugAssign, ast.AnnAssign)):
                    value, targets = n.value, [n.target]
                elif isinstance(n, ast.For):
                    value, targets = n.iter, [n.target]
                elif isinstance(n, ast.NamedExpr):
                    value, targets = n.value, [n.target]
                else:
                    value, targets = n.context_expr, [n.optional_vars] if n.optional_vars is not None else []
                src = sources(value)
                if not src:
                    continue
                for t in targets:
                    for name in names_in(t):
                        derive.setdefault(name, set()).update(src)

        for call in (n for n in ast.walk(fn.node) if isinstance(n, ast.Call)):
            callee = self.resolve(module, local_aliases, call.func, fn.cls)
            if callee is None and isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Call):
                # Class(...).method(...): the constructed class's method.
                owner = self.resolve(module, local_aliases, call.func.value.func, fn.cls)
                if owner and owner in self.class_bases:
                    callee = self.method(owner, call.func.attr)
            if callee is None:
                continue
            args: dict = {}
            for i, a in enumerate(call.args):
                s = sources(a.value if isinstance(a, ast.Starred) else a)
                if s:
                    args[i] = s
                    if isinstance(a, ast.Starred):
                        args["*"] = s
            for kw in call.keywords:
                s = sources(kw.value)
                if s:
                    args[kw.arg or "**"] = s
            if callee == "builtins.open" or callee == "io.open":
                mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
                writes = mode is not None and (not isinstance(mode, ast.Constant) or (isinstance(mode.value, str) and WRITE_MODES & set(mode.value)))
                if writes and 0 in args:
                    fn.calls.append(("builtins.open(write)", args, call.lineno))
                continue
            fn.calls.append((callee, args, call.lineno))


def constructor_targets(corpus: Corpus, name: str) -> list[str]:
    """What calling a class runs: its __init__ and __new__ (own or inherited), with self dropped from the params."""
    if name not in corpus.class_bases:
        return [name]
    out = [m for m in (corpus.method(name, "__init__"), corpus.method(name, "__new__")) if m]
    return out


def params_of(corpus: Corpus, name: str) -> list[str]:
    fn = corpus.functions.get(name)
    if fn is None:
        return []
    ps = [p for p in fn.params]
    if fn.cls and ps and ps[0].lstrip("*") in ("self", "cls"):
        ps = ps[1:]
    return ps


def propagate(corpus: Corpus) -> dict[str, dict]:
    """reach[f] = {param: (category, path, sink)} for each parameter of f that reaches a sink."""
    SEEDS["builtins.open(write)"] = ("file-write", (0,))
    reach: dict[str, dict[str, tuple[str, list[str]]]] = {}

    def callee_params(callee: str) -> tuple[str, list[str]] | None:
        if callee in SEEDS:
            return None
        for target in constructor_targets(corpus, callee):
            if target in reach:
                return target, params_of(corpus, target)
        return None

    for depth in range(1, MAX_DEPTH + 1):
        changed = False
        snapshot = {k: dict(v) for k, v in reach.items()}
        for fn in corpus.functions.values():
            own = reach.setdefault(fn.qualname, {})
            for callee, args, line in fn.calls:
                hits: list[tuple[set[str], str, list[str]]] = []
                if callee in SEEDS:
                    category, positions = SEEDS[callee]
                    for key, src in args.items():
                        if positions is None or key in positions or key == "*" or (isinstance(key, str) and key in ("args", "cmd", "command", "source", "code", "file", "path", "src", "name", "data")):
                            hits.append((src, category, [callee.replace("(write)", "")]))
                else:
                    for target in constructor_targets(corpus, callee):
                        known = snapshot.get(target)
                        if not known:
                            continue
                        tparams = params_of(corpus, target)
                        for key, src in args.items():
                            pname = tparams[key] if isinstance(key, int) and key < len(tparams) else key
                            if isinstance(pname, str):
                                pname = pname.lstrip("*")
                            if pname in known:
                                category, path = known[pname]
                                hits.append((src, category, [target] + path))
                            elif key == "*" and any(p.startswith("*") and p.lstrip("*") in known for p in tparams):
                                star = next(p.lstrip("*") for p in tparams if p.startswith("*") and p.lstrip("*") in known)
                                category, path = known[star]
                                hits.append((src, category, [target] + path))
                for src, category, path in hits:
                    if len(path) > MAX_DEPTH:
                        continue
                    for p in src:
                        best = own.get(p)
                        if best is None or len(path) < len(best[1]) or (len(path) == len(best[1]) and category < best[0]):
                            own[p] = (category, path)
                            changed = True
        if not changed:
            break
    return reach


def callable_name(corpus: Corpus, qualname: str) -> str | None:
    """The importable name of a function or constructor: module.func, module.Class (from __init__/__new__), module.Class.__setstate__."""
    fn = corpus.functions[qualname]
    if fn.cls is None:
        return qualname
    method = qualname[len(fn.cls) + 1:]
    if method in ("__init__", "__new__"):
        return fn.cls
    if method in ("__setstate__", "__reduce__", "__call__"):
        return qualname
    return qualname


def exported_names(corpus: Corpus, module: Module, depth: int = 0) -> dict[str, str]:
    """Names a module's namespace holds that come from elsewhere: imports, aliases and star imports."""
    names: dict[str, str] = {}
    for star in module.star if depth < 4 else []:
        starred = corpus.modules.get(star)
        if starred is None:
            continue
        for local, target in exported_names(corpus, starred, depth + 1).items():
            if not local.startswith("_"):
                names.setdefault(local, target)
        for local, target in starred.defs.items():
            if not local.startswith("_"):
                names.setdefault(local, target)
    names.update({k: v for k, v in module.aliases.items()})
    return names


def emit(corpus: Corpus, reach: dict, sources: list[tuple[str, str, str]], label: str) -> dict:
    entries: dict[str, dict] = {}
    for qualname, params in reach.items():
        if not params:
            continue
        name = callable_name(corpus, qualname)
        fn = corpus.functions[qualname]
        ordered = [p for p in params_of(corpus, qualname) if p.lstrip("*") in params]
        if not ordered:
            continue
        # One entry per callable: the shortest path, the most severe category on ties.
        first = params[ordered[0].lstrip("*")]
        category, path = min((params[p.lstrip("*")] for p in ordered), key=lambda cp: (len(cp[1]), cp[0]))
        entry = {
            "category": category,
            "rule": CATEGORY_RULE[category],
            "path": [name if i == 0 else step for i, step in enumerate([qualname] + path)],
            "params": [p.lstrip("*") for p in ordered],
        }
        if fn.cls is None or qualname.endswith(".__init__") or qualname.endswith(".__new__"):
            pass
        if category == NESTED:
            positional = params_of(corpus, qualname)
            for i, p in enumerate(positional):
                if p.lstrip("*") in params and params[p.lstrip("*")][0] == NESTED and not p.startswith("*"):
                    entry["nested_arg"] = i
                    break
        existing = entries.get(name)
        if existing is None or len(entry["path"]) < len(existing["path"]):
            entries[name] = entry
        del first
    # Re-exports: a pickle names a callable by any module attribute that holds it (`numpy.load` is
    # numpy.lib.npyio.load, `from .npyio import *` included).
    for module in sorted(corpus.modules.values(), key=lambda m: m.name):
        for local, target in sorted(exported_names(corpus, module).items()):
            alias = f"{module.name}.{local}"
            canonical = corpus.canonical(target)
            if alias in entries or canonical not in entries or alias == canonical:
                continue
            entry = dict(entries[canonical])
            entry["path"] = [alias] + [canonical] + entry["path"][1:]
            if len(entry["path"]) <= MAX_DEPTH + 2:
                entries[alias] = entry
    # Never describe a name the hand rules or seeds already cover as "derived" from itself.
    for seed in SEEDS:
        entries.pop(seed, None)
    return {
        "generator": "src/TrainGuard.Scanning/Rules/derived/derive.py",
        "label": label,
        "max_depth": MAX_DEPTH,
        "sources": [{"name": n, "version": v, "root": r} for n, v, r in sources],
        "seeds": {k.replace("(write)", ""): v[0] for k, v in sorted(SEEDS.items())},
        "callables": dict(sorted(entries.items())),
    }


def version_of(name: str, root: Path) -> str:
    if name == "stdlib":
        tag = root.name.removeprefix("python")
        return tag if tag.replace(".", "").isdigit() else "unknown"
    for meta in sorted(root.parent.glob(f"{name}-*.*-info")):
        info = meta / "METADATA" if (meta / "METADATA").exists() else meta / "PKG-INFO"
        for line in info.read_text(errors="replace").splitlines() if info.exists() else []:
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", action="append", help="NAME=ROOT (stdlib has no module prefix; other names are the package)")
    parser.add_argument("--label", help="output file stem, e.g. cpython-3.11_torch-1.13_numpy-1.24")
    parser.add_argument("--out", type=Path, default=HERE)
    ns = parser.parse_args()
    specs = ns.source or [
        f"stdlib=/usr/lib/python3.{sys.version_info.minor}",
        "torch=/usr/lib/python3/dist-packages/torch",
        "numpy=/usr/lib/python3/dist-packages/numpy",
    ]
    corpus = Corpus()
    sources = []
    for spec in specs:
        name, _, root = spec.partition("=")
        path = Path(root)
        corpus.load(path, "" if name == "stdlib" else name)
        sources.append((name, version_of(name, path), root))
    corpus.index()
    corpus.analyse()
    reach = propagate(corpus)
    label = ns.label or "_".join(f"{'cpython' if n == 'stdlib' else n}-{'.'.join(v.split('.')[:2])}" for n, v, _ in sources)
    data = emit(corpus, reach, sources, label)
    out = ns.out / f"{label}.json"
    out.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
    counts: dict[str, int] = {}
    for e in data["callables"].values():
        counts[e["category"]] = counts.get(e["category"], 0) + 1
    print(f"{out}: {len(data['callables'])} callables {dict(sorted(counts.items()))} from {len(corpus.modules)} modules")


if __name__ == "__main__":
    main()
