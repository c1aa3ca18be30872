"""Attestation on Debian's torch: clean optimizers pass; patched, instance-patched, spoofed and hooked ones fail."""

import base64
import functools
import hashlib
import os
import sys
import tempfile
import types
import unittest

import support
import torch

from trainguard_client._attest import Attester, _same_constant, same_code


def _colliding_pair():
    """Two strings a set of which iterates in the order they were added (they share a slot in this process)."""
    for i in range(10_000):
        a, b = "k%d" % i, "k%d" % (i + 1)
        if repr(frozenset([a, b])) != repr(frozenset([b, a])):
            return a, b
    raise AssertionError("no two strings share a slot")


def failed(checks):
    return {c["name"]: c["detail"] for c in checks if not c["ok"]}


class AttestationTests(unittest.TestCase):
    def setUp(self):
        self.saved_steps = support.SavedSteps(torch.optim.AdamW, torch.optim.Adam)
        self.per_tensor_module, self.per_tensor_name = support.per_tensor_function()
        self.saved_single = getattr(self.per_tensor_module, self.per_tensor_name)
        self.saved_addcdiv = torch.Tensor.addcdiv_
        self.model = torch.nn.Linear(4, 2)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=0.01)
        self.attester = Attester()

    def tearDown(self):
        self.saved_steps.restore()
        setattr(self.per_tensor_module, self.per_tensor_name, self.saved_single)
        torch.Tensor.addcdiv_ = self.saved_addcdiv

    def test_torch_optimizers_as_installed_pass_every_check(self):
        # Every optimizer torch ships (LBFGS needs a closure, SparseAdam sparse gradients), after a step, with the
        # foreach and fused implementations where this torch has them: no false alarm on a clean install.
        names = sorted(n for n, c in vars(torch.optim).items() if isinstance(c, type) and issubclass(c, torch.optim.Optimizer)
                       and c is not torch.optim.Optimizer and n not in ("LBFGS", "SparseAdam"))
        self.assertGreaterEqual(len(names), 10)
        for name in names + ["AdamW+foreach", "AdamW+fused", "SGD+foreach"]:
            cls_name, _, variant = name.partition("+")
            options = {variant: True} if variant else {}
            try:
                try:
                    optimizer = getattr(torch.optim, cls_name)(self.model.parameters(), lr=0.01, **options)
                except ValueError:  # torch 2.x's Muon takes matrices only
                    optimizer = getattr(torch.optim, cls_name)([self.model.weight], lr=0.01, **options)
            except (TypeError, RuntimeError):
                continue  # this torch has no such implementation (fused AdamW is torch 2.x)
            self.model.zero_grad()
            self.model(torch.ones(1, 4)).sum().backward()
            optimizer.step()
            checks = self.attester.attest(optimizer)
            self.assertEqual({}, failed(checks), name)
            self.assertEqual(["step-code", "wrapped-chain", "instance-patch", "hooks", "record-hash", "tensor-ops"], [c["name"] for c in checks])

    def test_a_set_constant_built_in_another_order_is_the_same_code(self):
        # `x in {"cuda", "xpu"}` (torch 2.x's optimizer.py) compiles to a frozenset. Loaded from a .pyc it is rebuilt in
        # the order the compiling process iterated it; when two elements share a hash slot, that order shows in repr.
        a, b = _colliding_pair()
        one, other = frozenset([a, b]), frozenset([b, a])
        self.assertNotEqual(repr(one), repr(other))  # the order differs: what a repr comparison tripped on
        self.assertTrue(_same_constant(one, other))
        code = compile("def f(x):\n    return x in {%r, %r}\n" % (a, b), "f.py", "exec").co_consts[0]
        index = next(i for i, c in enumerate(code.co_consts) if isinstance(c, frozenset))
        consts = list(code.co_consts)
        consts[index] = other if repr(code.co_consts[index]) == repr(one) else one
        # The code object may rebuild the set while interning its strings (its order then follows the interpreter):
        # whichever order it keeps, it is the same code.
        rebuilt = code.replace(co_consts=tuple(consts))
        self.assertIsNone(same_code(code, rebuilt))
        consts[index] = frozenset([a, "other"])
        self.assertIn("co_consts[%d] differs" % index, same_code(code, code.replace(co_consts=tuple(consts))))

    def test_constants_compare_by_value_and_type_not_by_the_order_of_a_set(self):
        self.assertTrue(_same_constant(frozenset(["a", "b", "c"]), frozenset(["c", "b", "a"])))
        self.assertTrue(_same_constant(("x", frozenset([1, 2])), ("x", frozenset([2, 1]))))
        self.assertFalse(_same_constant(frozenset(["a", "b"]), frozenset(["a", "c"])))
        self.assertFalse(_same_constant(frozenset([1]), frozenset([True])))
        self.assertFalse(_same_constant((1,), (True,)))
        self.assertFalse(_same_constant(0.0, -0.0))

    def test_a_patched_class_step_fails(self):
        original = torch.optim.AdamW.step

        @functools.wraps(original)
        def step(self, closure=None):
            return original(self, closure)

        torch.optim.AdamW.step = step
        problems = failed(self.attester.attest(self.optimizer))
        self.assertIn("wrapped-chain", problems)
        self.assertIn("test_attest.py", problems["wrapped-chain"])

    def test_a_patched_base_step_under_a_subclass_that_calls_super_fails(self):
        class Mine(torch.optim.AdamW):
            def step(self, closure=None):
                return super().step(closure)

        optimizer = Mine(self.model.parameters(), lr=0.01)
        torch.optim.lr_scheduler.StepLR(optimizer, 1)  # torch's counter on the instance closes over Mine.step
        self.assertEqual({}, failed(self.attester.attest(optimizer)))
        original = torch.optim.AdamW.step
        torch.optim.AdamW.step = functools.wraps(original)(lambda self, closure=None: original(self, closure))
        self.assertIn("wrapped-chain", failed(self.attester.attest(optimizer)))

    def test_an_instance_patch_fails(self):
        original = self.optimizer.step
        self.optimizer.step = lambda closure=None: original(closure)
        problems = failed(self.attester.attest(self.optimizer))
        self.assertIn("instance-patch", problems)
        self.assertIn("not torch's", problems["instance-patch"])

    def test_a_spoofed_step_compiled_with_torchs_file_name_fails(self):
        # The attacker's step, compiled under the real step's file name at its line (adamw.py's AdamW.step on torch
        # 1.13, adam.py's Adam.step on 2.x), with that module's own globals.
        real = torch.optim.AdamW.step
        while hasattr(real, "__wrapped__"):
            real = real.__wrapped__
        code = real.__code__
        owner = code.co_qualname.split(".")[0]
        module = sys.modules[real.__module__]
        source = "\n" * (code.co_firstlineno - 2) + "class %s:\n    def step(self, closure=None):\n" \
            "        for group in self.param_groups:\n            group['maximize'] = not group['maximize']\n        return None\n" % owner
        namespace = {}
        exec(compile(source, code.co_filename, "exec"), module.__dict__, namespace)  # noqa: S102 - the spoof under test
        spoof = types.FunctionType(namespace[owner].step.__code__, module.__dict__, "step")
        spoof.__qualname__ = owner + ".step"
        self.assertEqual((code.co_filename, code.co_firstlineno, owner + ".step"),
                         (spoof.__code__.co_filename, spoof.__code__.co_firstlineno, spoof.__code__.co_qualname))
        torch.optim.AdamW.step = spoof
        problems = failed(self.attester.attest(self.optimizer))
        self.assertIn("step-code", problems)
        self.assertIn("is not what %s compiles to" % code.co_filename, problems["step-code"])

    def test_a_spoofed_function_the_step_calls_fails(self):
        module, name = self.per_tensor_module, self.per_tensor_name
        code = getattr(module, name).__code__
        source = "\n" * (code.co_firstlineno - 1) + "def %s(*args, **kwargs):\n    return None\n" % name
        namespace = {}
        exec(compile(source, code.co_filename, "exec"), module.__dict__, namespace)  # noqa: S102
        setattr(module, name, namespace[name])
        problems = failed(self.attester.attest(self.optimizer))
        self.assertIn("step-code", problems)
        self.assertIn(name, problems["step-code"])

    def test_a_replaced_tensor_operation_fails(self):
        original = torch.Tensor.addcdiv_

        def addcdiv_(self, *args, **kwargs):
            return original(self, *args, **kwargs)

        torch.Tensor.addcdiv_ = addcdiv_
        problems = failed(self.attester.attest(self.optimizer))
        self.assertIn("tensor-ops", problems)
        self.assertIn("torch.Tensor.addcdiv_", problems["tensor-ops"])
        torch.Tensor.addcdiv_ = torch._C._TensorBase.sub_
        self.assertIn("builtin sub_", failed(Attester().attest(self.optimizer))["tensor-ops"])

    def test_global_module_hooks_step_hooks_and_gradient_hooks_fail(self):
        handle = torch.nn.modules.module.register_module_forward_hook(lambda module, args, out: out)
        try:
            self.assertIn("_global_forward_hooks", failed(self.attester.attest(self.optimizer))["hooks"])
        finally:
            handle.remove()
        parameter = next(self.model.parameters())
        gradient_hook = parameter.register_hook(lambda grad: -grad)
        try:
            self.assertIn("backward_hooks", failed(self.attester.attest(self.optimizer))["hooks"])
        finally:
            gradient_hook.remove()
        self.assertEqual({}, failed(self.attester.attest(self.optimizer)))

    def test_a_hook_allowed_by_name_passes_only_as_that_installed_function(self):
        # A legitimate global hook, named by the site: torch's own function from the installed (dpkg-recorded) file.
        legitimate = torch.nn.init.calculate_gain
        handle = torch.nn.modules.module.register_module_forward_hook(legitimate)
        try:
            self.assertIn("_global_forward_hooks", failed(self.attester.attest(self.optimizer))["hooks"])
            allowed = Attester(allow_hooks=["torch.nn.init.calculate_gain"])
            checks = allowed.attest(self.optimizer)
            self.assertEqual({}, failed(checks))
            hooks = next(c for c in checks if c["name"] == "hooks")
            self.assertIn("allowed hook torch.nn.init.calculate_gain", hooks["detail"])
        finally:
            handle.remove()

        # A look-alike given the allowed name (module and qualified name set by hand) is not that function.
        def calculate_gain(nonlinearity, param=None):
            return -1.0
        calculate_gain.__module__ = "torch.nn.init"
        calculate_gain.__qualname__ = "calculate_gain"
        handle = torch.nn.modules.module.register_module_forward_hook(calculate_gain)
        try:
            problems = failed(Attester(allow_hooks=["torch.nn.init.calculate_gain"]).attest(self.optimizer))
            self.assertIn("is not torch.nn.init.calculate_gain itself", problems["hooks"])
        finally:
            handle.remove()

        # The allowed name swapped in the module for a look-alike: the module resolves to it, but its code is not the file's.
        exec_globals = torch.nn.init.__dict__
        module_code = compile("def calculate_gain(nonlinearity, param=None):\n    return -1.0\n", torch.nn.init.__file__, "exec")
        code = next(c for c in module_code.co_consts if isinstance(c, types.CodeType))
        spoof = types.FunctionType(code, exec_globals, "calculate_gain")
        spoof.__qualname__ = "calculate_gain"
        torch.nn.init.calculate_gain = spoof
        handle = torch.nn.modules.module.register_module_forward_hook(spoof)
        try:
            problems = failed(Attester(allow_hooks=["torch.nn.init.calculate_gain"]).attest(self.optimizer))
            self.assertIn("its code is not its file's", problems["hooks"])
        finally:
            handle.remove()
            torch.nn.init.calculate_gain = legitimate
        self.assertEqual({}, failed(self.attester.attest(self.optimizer)))

    def test_record_check_against_a_wheel_record_and_dpkg_md5sums(self):
        with tempfile.TemporaryDirectory() as tmp:
            site = os.path.join(tmp, "lib", "site-packages")
            os.makedirs(os.path.join(site, "pkg"))
            os.makedirs(os.path.join(site, "pkg-1.0.dist-info"))
            module = os.path.join(site, "pkg", "mod.py")
            with open(module, "w", encoding="utf-8") as handle:
                handle.write("x = 1\n")
            digest = base64.urlsafe_b64encode(hashlib.sha256(b"x = 1\n").digest()).rstrip(b"=").decode()
            with open(os.path.join(site, "pkg-1.0.dist-info", "RECORD"), "w", encoding="utf-8") as handle:
                handle.write("pkg/mod.py,sha256=%s,6\n" % digest)
            dpkg = os.path.join(tmp, "dpkg")
            os.makedirs(dpkg)
            debian = os.path.join(tmp, "lib", "dist-packages", "deb.py")
            os.makedirs(os.path.dirname(debian))
            with open(debian, "w", encoding="utf-8") as handle:
                handle.write("y = 2\n")
            with open(os.path.join(dpkg, "python3-deb.md5sums"), "w", encoding="utf-8") as handle:
                handle.write("%s  %s\n" % (hashlib.md5(b"y = 2\n").hexdigest(), os.path.realpath(debian).lstrip("/")))  # noqa: S324 - dpkg's format
            self.assertTrue(Attester(dpkg_info=dpkg).record_check(module)[0])
            self.assertTrue(Attester(dpkg_info=dpkg).record_check(debian)[0])
            for path, text in ((module, "x = 2\n"), (debian, "y = 3\n")):
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            ok, detail = Attester(dpkg_info=dpkg).record_check(module)
            self.assertFalse(ok)
            self.assertIn("RECORD records", detail)
            ok, detail = Attester(dpkg_info=dpkg).record_check(debian)
            self.assertFalse(ok)
            self.assertIn("md5sums records", detail)
            added = os.path.join(site, "pkg", "added.py")
            open(added, "w", encoding="utf-8").close()
            self.assertIn("an added file", Attester(dpkg_info=dpkg).record_check(added)[1])

    def test_debian_torch_files_are_checked_against_dpkg(self):
        if not os.path.isfile("/var/lib/dpkg/info/python3-torch.md5sums") or "dist-packages" not in torch.__file__:
            self.skipTest("torch is not Debian's python3-torch here")
        checks = {c["name"]: c for c in self.attester.attest(self.optimizer)}
        self.assertTrue(checks["record-hash"]["ok"], checks["record-hash"]["detail"])
        self.assertIn("python3-torch.md5sums", checks["record-hash"]["detail"])
        real = torch.optim.AdamW.step
        while hasattr(real, "__wrapped__"):
            real = real.__wrapped__
        ok, detail = self.attester.record_check(real.__code__.co_filename)  # adamw.py on torch 1.13, adam.py on 2.x
        self.assertTrue(ok, detail)
        self.assertIn("md5 matches /var/lib/dpkg/info/python3-torch.md5sums", detail)


if __name__ == "__main__":
    unittest.main()
