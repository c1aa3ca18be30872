"""Attestation: the optimizer's `step` that runs is the code on disk, and nothing sits around it.

Checks (each one `{name, ok, detail}`):
- `step-code`: the function `optimizer.step` resolves to, every wrapper of its `__wrapped__` chain and every
  function they reach (module globals, methods of the optimizer's class, closure cells) is a plain Python function
  whose code object equals the one compiled from the file it names (bytecode, constants recursively, names,
  variables, flags, qualified name, line); a code object compiled elsewhere with torch's file name differs from
  what that file compiles to and fails. The innermost `step` is `Owner.step` of the file of the class that owns it.
- `wrapped-chain`: every wrapper comes from torch or from the package of the optimizer's class.
- `instance-patch`: no `step` (or other method the step uses) set on the optimizer object itself, other than the
  client's own wrapper.
- `hooks`: no global optimizer or module hooks, no step hooks on the optimizer other than the client's, no gradient
  hooks on the parameters.
- `record-hash`: every file involved matches its wheel `RECORD` (SHA-256) or Debian `md5sums` entry.
- `tensor-ops`: every `torch.Tensor` method and `torch` function the step's code names is torch's own: a C builtin
  of that name, or a Python function verified like the step.
"""

import base64
import glob
import hashlib
import inspect
import os
import sys
import sysconfig
import types

DPKG_INFO = "/var/lib/dpkg/info"
_STDLIB = os.path.realpath(sysconfig.get_paths()["stdlib"])
MAX_FUNCTIONS = 400

# torch functions whose C builtin carries another name (aliases torch itself defines).
_BUILTIN_ALIASES = {("to_dlpack", "_to_dlpack"), ("zeros_like", "zeros_like")}


def _code_key(code):
    return getattr(code, "co_qualname", code.co_name), code.co_firstlineno


def same_code(a, b, path="code"):
    """None when two code objects are the same compiled code, else where they differ."""
    for attr in ("co_code", "co_names", "co_varnames", "co_freevars", "co_cellvars", "co_argcount",
                 "co_posonlyargcount", "co_kwonlyargcount", "co_flags", "co_name", "co_qualname",
                 "co_firstlineno", "co_exceptiontable", "co_filename"):
        if getattr(a, attr, None) != getattr(b, attr, None):
            return "%s.%s differs" % (path, attr)
    if len(a.co_consts) != len(b.co_consts):
        return "%s.co_consts differ in length" % path
    for index, (x, y) in enumerate(zip(a.co_consts, b.co_consts)):
        if isinstance(x, types.CodeType) or isinstance(y, types.CodeType):
            if not (isinstance(x, types.CodeType) and isinstance(y, types.CodeType)):
                return "%s.co_consts[%d] differs" % (path, index)
            nested = same_code(x, y, "%s/%s" % (path, x.co_name))
            if nested:
                return nested
        elif not _same_constant(x, y):
            return "%s.co_consts[%d] differs" % (path, index)
    return None


def _same_constant(x, y):
    """Constants compared by type and text; a frozenset (`x in {"a", "b"}`) by its elements' texts, since its order
    depends on how it was built and on the process's string hash seed, not on the source."""
    if type(x) is not type(y):
        return False
    if isinstance(x, tuple):
        return len(x) == len(y) and all(_same_constant(a, b) for a, b in zip(x, y))
    if isinstance(x, frozenset):
        return sorted(map(repr, x)) == sorted(map(repr, y))
    return repr(x) == repr(y)


class _Compiled:
    """On-disk source of one file compiled once per (mtime, size), with its code objects by (qualname, line)."""

    def __init__(self, path, stat):
        self.stat = stat
        with open(path, "rb") as handle:
            source = handle.read()
        code = compile(source, path, "exec", dont_inherit=True, optimize=sys.flags.optimize)
        self.codes = {}
        stack = [code]
        while stack:
            current = stack.pop()
            self.codes.setdefault(_code_key(current), []).append(current)
            stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))


def _stat_key(path):
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size, st.st_ino


class Attester:
    """Verifies an optimizer's step; results of compiling files are cached by file identity."""

    def __init__(self, own_wrappers=None, own_hooks=None, dpkg_info=DPKG_INFO, allow_hooks=()):
        self._allow_hooks = frozenset(allow_hooks)
        self._compiled = {}
        self._verified = {}  # id(function) -> (function, code) kept alive, so ids are not reused
        self._own_wrappers = own_wrappers if own_wrappers is not None else set()
        self._own_hooks = own_hooks if own_hooks is not None else set()
        self._dpkg_info = dpkg_info
        self._dpkg = None
        self._records = {}
        self._record_results = {}

    # ---- public -------------------------------------------------------------------------------------------------

    def attest(self, optimizer):
        import torch  # the optimizer exists, so torch is imported

        state = _State(self, optimizer, torch)
        state.run()
        return state.checks

    # ---- code ---------------------------------------------------------------------------------------------------

    def compiled(self, path):
        key = _stat_key(path)
        entry = self._compiled.get(path)
        if entry is None or entry.stat != key:
            entry = _Compiled(path, key)
            self._compiled[path] = entry
        return entry

    def verify_code(self, function):
        """None when the function's code is what its file compiles to, else why not."""
        code = function.__code__
        cached = self._verified.get(id(function))
        path = code.co_filename
        if not os.path.isfile(path):
            return "%s: its file %s does not exist" % (_name(function), path)
        try:
            stat = _stat_key(path)
        except OSError as error:
            return "%s: %s" % (_name(function), error)
        if cached is not None and cached[0] is function and cached[1] is code and cached[2] == stat:
            return None
        try:
            candidates = self.compiled(path).codes.get(_code_key(code), [])
        except (OSError, SyntaxError, ValueError) as error:
            return "%s: %s does not compile: %s" % (_name(function), path, error)
        if not candidates:
            return "%s: no function %s at line %d in %s" % (_name(function), _code_key(code)[0], code.co_firstlineno, path)
        reasons = [same_code(code, c) for c in candidates]
        if all(reasons):
            return "%s: the running code is not what %s compiles to (%s)" % (_name(function), path, reasons[0])
        self._verified[id(function)] = (function, code, stat)
        return None

    # ---- package records ----------------------------------------------------------------------------------------

    def record_check(self, path):
        """(ok, detail) for one file against its dist-info RECORD or Debian md5sums (re-hashed when its stat changes)."""
        real = os.path.realpath(path)
        try:
            st = os.stat(real)
            key = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        except OSError as error:
            return False, "%s: %s" % (real, error)
        cached = self._record_results.get(real)
        if cached is not None and cached[0] == key:
            return cached[1]
        result = self._record_check(real)
        self._record_results[real] = (key, result)
        return result

    def _record_check(self, real):
        site = _site_dir(real)
        if site is None:
            return True, "%s: not in a site-packages/dist-packages folder (not checked)" % real
        record = self._record_for(site, os.path.relpath(real, site))
        if record is not None:
            expected, record_file = record
            if not expected:
                return False, "%s: listed without a hash in %s" % (real, record_file)
            algorithm, _, digest = expected.partition("=")
            actual = base64.urlsafe_b64encode(_digest(real, algorithm)).rstrip(b"=").decode("ascii")
            if actual != digest:
                return False, "%s: %s %s, %s records %s" % (real, algorithm, actual, record_file, digest)
            return True, "%s: %s matches %s" % (real, algorithm, record_file)
        dpkg = self._dpkg_entry(real)
        if dpkg is not None:
            expected, md5sums = dpkg
            actual = _digest(real, "md5").hex()
            if actual != expected:
                return False, "%s: md5 %s, %s records %s" % (real, actual, md5sums, expected)
            return True, "%s: md5 matches %s" % (real, md5sums)
        return False, "%s: no RECORD or dpkg md5sums lists this file (an added file)" % real

    def _record_for(self, site, relative):
        entries = self._records.get(site)
        if entries is None:
            entries = {}
            for record_file in glob.glob(os.path.join(site, "*.dist-info", "RECORD")):
                try:
                    with open(record_file, encoding="utf-8") as handle:
                        for line in handle:
                            parts = line.rstrip("\n").rsplit(",", 2)
                            if len(parts) == 3:
                                entries[os.path.normpath(parts[0])] = (parts[1], record_file)
                except OSError:
                    continue
            self._records[site] = entries
        return entries.get(os.path.normpath(relative))

    def _dpkg_entry(self, real):
        if self._dpkg is None:
            self._dpkg = {}
            for md5sums in glob.glob(os.path.join(self._dpkg_info, "*.md5sums")):
                try:
                    with open(md5sums, encoding="utf-8", errors="replace") as handle:
                        for line in handle:
                            digest, _, relative = line.rstrip("\n").partition("  ")
                            if relative.endswith(".py"):
                                self._dpkg["/" + relative] = (digest, md5sums)
                except OSError:
                    continue
        return self._dpkg.get(real)


def _digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.digest()


def _site_dir(real):
    parts = real.split(os.sep)
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] in ("site-packages", "dist-packages"):
            return os.sep.join(parts[: index + 1])
    return None


def _name(function):
    """module.qualname of the code that runs (functools.wraps copies another function's names onto a wrapper)."""
    code = getattr(function, "__code__", None)
    if code is None:
        return "%s.%s" % (getattr(function, "__module__", "?"), getattr(function, "__qualname__", repr(function)))
    module = getattr(function, "__globals__", {}).get("__name__", "?")
    return "%s.%s" % (module, getattr(code, "co_qualname", code.co_name))


def _package_root(module_name):
    module = sys.modules.get((module_name or "").split(".")[0])
    path = getattr(module, "__file__", None)
    if not path:
        return None
    return os.path.dirname(os.path.realpath(path)) if os.path.basename(path).startswith("__init__.") else os.path.realpath(path)


def _inside(path, root):
    if root is None:
        return False
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


class _State:
    """One attestation: collects functions, files and names, then reports the six checks."""

    def __init__(self, attester, optimizer, torch):
        self.a = attester
        self.opt = optimizer
        self.torch = torch
        self.torch_root = _package_root("torch")
        self.failures = {name: [] for name in ("step-code", "wrapped-chain", "instance-patch", "hooks", "record-hash", "tensor-ops")}
        self.notes = {name: [] for name in self.failures}
        self.files = set()
        self.names = set()
        self.seen = set()
        self.checks = []

    def fail(self, check, detail):
        self.failures[check].append(detail)

    def run(self):
        cls = type(self.opt)
        owner = next((k for k in cls.__mro__ if "step" in vars(k)), None)
        # An instance-level wrapper (an lr scheduler's counter) closes over the class's step, wherever that class lives.
        self.trusted = {self.torch_root} | {_package_root(k.__module__) for k in cls.__mro__ if "step" in vars(k)}
        self.trusted.discard(None)
        self._instance(cls, owner)
        if owner is None:
            self.fail("step-code", "%s has no step method" % cls.__qualname__)
        else:
            # Every class of the MRO that defines step: a subclass's step may call super().step().
            for klass in (k for k in cls.__mro__ if "step" in vars(k)):
                self._chain(klass)
            for name in sorted(self.names):
                static = inspect.getattr_static(cls, name, None)
                if isinstance(static, (types.FunctionType, staticmethod, classmethod)):
                    self._function(_unwrap_descriptor(static), "method %s.%s" % (cls.__qualname__, name), require_trusted=False)
        self._hooks()
        self._tensor_ops()
        for path in sorted(self.files):
            ok, detail = self.a.record_check(path)
            (self.notes if ok else self.failures)["record-hash"].append(detail)
        for name, failures in self.failures.items():
            if failures:
                self.checks.append({"name": name, "ok": False, "detail": "; ".join(failures[:8]) + (" (+%d more)" % (len(failures) - 8) if len(failures) > 8 else "")})
            else:
                notes = self.notes[name]
                self.checks.append({"name": name, "ok": True, "detail": "; ".join(notes[:4]) + (" (+%d more)" % (len(notes) - 4) if len(notes) > 4 else "") if notes else "ok"})

    def _instance(self, cls, owner):
        """The instance's own `step`, if any, must lead through known wrappers to the class's step."""
        for name, value in vars(self.opt).items():
            if name == "step" or not callable(value) or name.startswith("__"):
                continue
            if isinstance(inspect.getattr_static(cls, name, None), (types.FunctionType, staticmethod, classmethod)):
                self.fail("instance-patch", "optimizer.%s is set on the object itself (%s), shadowing %s.%s" % (
                    name, _describe(value), cls.__qualname__, name))
        current = vars(self.opt).get("step")
        class_step = vars(owner)["step"] if owner is not None else None
        layers = []
        while current is not None and len(layers) < 16:
            function = getattr(current, "__func__", current)
            if function is class_step:
                break
            if any(function is own for own in self.a._own_wrappers):
                layers.append("the client's step wrapper")
                current = function._trainguard_previous
                continue
            if isinstance(function, types.FunctionType) and _inside(function.__code__.co_filename, self.torch_root) \
                    and not self.a.verify_code(function):
                self._function(function, "instance step wrapper", require_trusted=True)
                layers.append(getattr(function.__code__, "co_qualname", function.__code__.co_name))
                current = _next_in_chain(function)
                continue
            self.fail("instance-patch", "optimizer.step is set on the object itself: %s, which is not torch's and does not lead to %s.step" % (
                _describe(function), cls.__qualname__))
            return
        if current is not None and getattr(current, "__func__", current) is not class_step:
            self.fail("instance-patch", "optimizer.step on the object does not lead to %s.step" % cls.__qualname__)
        if not self.failures["instance-patch"]:
            self.notes["instance-patch"].append("no foreign method on the optimizer object" + (
                " (step wrapped by: %s)" % ", ".join(layers) if layers else ""))

    def _chain(self, owner):
        # Wrappers of a class's step may come from torch or from that class's own package, not from a subclass's.
        self.trusted = {self.torch_root, _package_root(owner.__module__)} - {None}
        function = vars(owner)["step"]
        depth = 0
        innermost = None
        while function is not None and depth < 32:
            if not isinstance(function, types.FunctionType):
                self.fail("step-code", "%s.step (depth %d) is a %s, not a Python function" % (owner.__qualname__, depth, type(function).__name__))
                return
            path = function.__code__.co_filename
            if not any(_inside(path, root) for root in self.trusted):
                self.fail("wrapped-chain", "%s.step (depth %d) is %s from %s, outside torch and the optimizer's package" % (
                    owner.__qualname__, depth, _name(function), path))
            self._function(function, "%s.step depth %d" % (owner.__qualname__, depth), require_trusted=True)
            innermost = function
            function = _next_in_chain(function)
            depth += 1
        code = innermost.__code__
        qualname = getattr(code, "co_qualname", None)
        # The innermost step is the owner's own, or, where torch wrapped an inherited step onto the class (torch 2.x
        # wraps `type(optimizer).step` on first use, and its AdamW inherits Adam's step), a base class's own step.
        definer = next((k for k in owner.__mro__ if qualname == k.__qualname__ + ".step" and "step" in vars(k)), owner)
        expected_file = getattr(sys.modules.get(definer.__module__), "__file__", None)
        # A package may name itself as the module of a class one of its files defines (torch 2.x's
        # `torch.optim.Adafactor` lives in torch/optim/_adafactor.py): a file inside that package is the class's own.
        reexported = expected_file is not None and os.path.basename(expected_file).startswith("__init__.") \
            and _inside(code.co_filename, os.path.dirname(os.path.realpath(expected_file)))
        if expected_file and not reexported and os.path.realpath(code.co_filename) != os.path.realpath(expected_file):
            self.fail("step-code", "%s.step runs %s from %s, not from %s where %s is defined" % (
                owner.__qualname__, _name(innermost), code.co_filename, expected_file, definer.__qualname__))
        elif code.co_name != "step" or (qualname is not None and qualname != definer.__qualname__ + ".step"):
            self.fail("step-code", "%s.step runs %s (%s), not %s.step" % (owner.__qualname__, qualname or code.co_name, code.co_filename, owner.__qualname__))
        if not self.failures["step-code"]:
            self.notes["step-code"].append("%s.step: %d wrapper(s) and %d function(s) match their source" % (owner.__qualname__, depth - 1, len(self.seen)))
        if not self.failures["wrapped-chain"]:
            self.notes["wrapped-chain"].append("%d wrapper(s), all from torch or the optimizer's package" % (depth - 1))

    def _function(self, function, role, require_trusted):
        if id(function) in self.seen or len(self.seen) >= MAX_FUNCTIONS:
            return
        self.seen.add(id(function))
        if not isinstance(function, types.FunctionType):
            return
        reason = self.a.verify_code(function)
        if reason:
            self.fail("step-code", "%s: %s" % (role, reason))
            return
        path = function.__code__.co_filename
        self.files.add(path)
        module = sys.modules.get(function.__globals__.get("__name__"))
        module_file = getattr(module, "__file__", None)
        if module is None or getattr(module, "__dict__", None) is not function.__globals__ or not module_file \
                or os.path.realpath(module_file) != os.path.realpath(path):
            self.fail("step-code", "%s: %s runs with globals that are not those of its file's module" % (role, _name(function)))
            return
        in_torch = _inside(path, self.torch_root)
        codes = [function.__code__]
        while codes:
            code = codes.pop()
            self.names.update(code.co_names)
            for name in code.co_names:
                value = function.__globals__.get(name)
                if isinstance(value, types.FunctionType):
                    if in_torch and not (_inside(value.__code__.co_filename, self.torch_root) or _inside(value.__code__.co_filename, _STDLIB)):
                        self.fail("step-code", "%s.%s, which %s calls, is %s from %s" % (
                            function.__module__, name, _name(function), _name(value), value.__code__.co_filename))
                        continue
                    self._function(value, "%s.%s" % (function.__module__, name), require_trusted)
                elif isinstance(value, types.ModuleType) and sys.modules.get(value.__name__) is not value:
                    self.fail("step-code", "%s.%s is a module object that is not sys.modules[%r]" % (function.__module__, name, value.__name__))
            codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
        for cell in function.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if isinstance(value, types.FunctionType):
                if require_trusted and not any(_inside(value.__code__.co_filename, r) for r in self.trusted):
                    self.fail("wrapped-chain", "%s closes over %s from %s" % (_name(function), _name(value), value.__code__.co_filename))
                    continue
                self._function(value, "closure of %s" % _name(function), require_trusted)

    def _hooks(self):
        found = []
        allowed = 0

        def judge(registry, prefix, own=()):
            nonlocal allowed
            for hook in _values(registry):
                if any(hook is mine for mine in own):
                    continue
                if self._allowed_hook(hook):
                    allowed += 1
                else:
                    found.append(prefix + _describe(hook))

        optim_module = sys.modules.get("torch.optim.optimizer")
        for name in ("_global_optimizer_pre_hooks", "_global_optimizer_post_hooks"):
            judge(getattr(optim_module, name, None), "torch.optim.optimizer.%s holds " % name)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks"):
            judge(getattr(self.opt, name, None), "optimizer.%s holds " % name, own=self.a._own_hooks)
        module_module = sys.modules.get("torch.nn.modules.module")
        for name in sorted(n for n in vars(module_module or types.ModuleType("x")) if n.startswith("_global_") and n.endswith("hooks")):
            judge(getattr(module_module, name), "torch.nn.modules.module.%s holds " % name)
        for group in getattr(self.opt, "param_groups", []):
            for param in group.get("params", []):
                for name in ("_backward_hooks", "_post_accumulate_grad_hooks"):
                    judge(getattr(param, name, None), "a parameter of shape %s has %s " % (tuple(param.shape), name.strip("_")))
        for item in found:
            self.fail("hooks", item)
        if not found and not allowed and not self.failures["hooks"]:
            self.notes["hooks"].append("no global optimizer or module hooks, no foreign step hooks, no parameter gradient hooks")

    def _allowed_hook(self, hook):
        """
        A hook the site allowed by name (`allow_hooks=["package.module.function"]`, e.g. its profiler's): it passes only
        if it is that very function of that module (not a look-alike given its name), its code is the code of its file,
        and the file is as installed (checked with the step's files against RECORD / dpkg). True when the hook was
        judged here (passed, or failed with a reason), False when it is not allowed by name.
        """
        target = getattr(hook, "__func__", hook)
        if not self.a._allow_hooks or not isinstance(target, types.FunctionType):
            return False
        name = "%s.%s" % (target.__module__, target.__qualname__)
        if name not in self.a._allow_hooks:
            return False
        module = sys.modules.get(target.__module__)
        resolved = module
        for part in target.__qualname__.split("."):
            resolved = getattr(resolved, part, None)
        resolved = getattr(resolved, "__func__", resolved)
        if module is None or resolved is not target or getattr(module, "__dict__", None) is not target.__globals__:
            self.fail("hooks", "%s is allowed by name, but this hook is not %s itself: %s" % (name, name, _describe(hook)))
            return True
        reason = self.a.verify_code(target)
        if reason:
            self.fail("hooks", "%s is allowed by name, but its code is not its file's: %s" % (name, reason))
            return True
        self.files.add(target.__code__.co_filename)
        self.notes["hooks"].append("allowed hook %s (%s)" % (name, target.__code__.co_filename))
        return True

    def _tensor_ops(self):
        torch = self.torch
        checked = 0
        for name in sorted(self.names):
            for owner, label in ((torch.Tensor, "torch.Tensor"), (torch, "torch")):
                value = inspect.getattr_static(owner, name, None) if owner is torch.Tensor else vars(torch).get(name)
                if value is None:
                    continue
                checked += 1
                self._tensor_op(label, name, value)
        if not self.failures["tensor-ops"]:
            self.notes["tensor-ops"].append("%d torch.Tensor methods and torch functions named by the step are torch's own" % checked)

    def _tensor_op(self, label, name, value):
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            value = value.fget
        kind = type(value).__name__
        if kind in ("method_descriptor", "builtin_function_or_method", "getset_descriptor", "wrapper_descriptor",
                    "member_descriptor", "classmethod_descriptor", "method-wrapper"):
            actual = getattr(value, "__name__", None)
            if actual != name and (name, actual) not in _BUILTIN_ALIASES:
                self.fail("tensor-ops", "%s.%s is the builtin %s" % (label, name, actual))
        elif isinstance(value, types.FunctionType):
            if not _inside(value.__code__.co_filename, self.torch_root):
                self.fail("tensor-ops", "%s.%s is %s from %s" % (label, name, _name(value), value.__code__.co_filename))
                return
            reason = self.a.verify_code(value)
            if reason:
                self.fail("tensor-ops", "%s.%s: %s" % (label, name, reason))
            else:
                self.files.add(value.__code__.co_filename)
        elif label == "torch.Tensor" and callable(value) and not isinstance(value, type):
            self.fail("tensor-ops", "%s.%s is a %s, not torch's own" % (label, name, kind))


def _next_in_chain(function):
    """The function a wrapper wraps: its `__wrapped__`, else the one function it closes over named `step`."""
    wrapped = getattr(function, "__wrapped__", None)
    if wrapped is not None:
        return wrapped
    inner = []
    for cell in function.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:
            continue
        if isinstance(value, types.FunctionType) and value.__code__.co_name == "step":
            inner.append(value)
    return inner[0] if len(inner) == 1 else None


def _unwrap_descriptor(value):
    return value.__func__ if isinstance(value, (staticmethod, classmethod)) else value


def _values(registry):
    if registry is None:
        return []
    try:
        return list(registry.values()) if hasattr(registry, "values") else list(registry)
    except Exception:  # noqa: BLE001
        return []


def _describe(hook):
    target = getattr(hook, "__func__", hook)
    code = getattr(target, "__code__", None)
    where = " (%s:%d)" % (code.co_filename, code.co_firstlineno) if code else ""
    return "%s%s" % (getattr(target, "__qualname__", type(target).__name__), where)
