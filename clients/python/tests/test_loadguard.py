"""The load guard: nothing is loaded unless `trainguard scan` says clean; a missing scanner is an error."""

import json
import os
import shutil
import stat
import tempfile
import unittest
from unittest import mock

import support
import torch

import trainguard_client
from trainguard_client import LoadRefused, ScanUnavailable

MALICIOUS = os.path.join(support.FIXTURES, "malicious", "torch-zip-injected-keeps-object.pt")  # os.system('id') in data.pkl
CLEAN = os.path.join(support.FIXTURES, "benign", "tiny-model-state-dict.pt")


class Sentinel:
    """Stands in for torch.load: records calls and never unpickles anything."""

    def __init__(self):
        self.calls = []

    def __call__(self, f, *args, **kwargs):
        self.calls.append(f)
        return "loaded"


class FakeScanner(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tg-guard-test-")
        self.tmp = self._tmp.name
        self.sentinel = Sentinel()
        self._patch = mock.patch.object(torch, "load", self.sentinel)
        self._patch.start()

    def tearDown(self):
        trainguard_client.uninstall_load_guard()
        self._patch.stop()
        self._tmp.cleanup()

    def script(self, body):
        path = os.path.join(self.tmp, "trainguard")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, stat.S_IRWXU)
        return path

    def test_a_missing_executable_is_an_error_and_nothing_is_loaded(self):
        with mock.patch.dict(os.environ, {"TRAINGUARD_BIN": os.path.join(self.tmp, "nope")}):
            with self.assertRaisesRegex(ScanUnavailable, "not an executable"):
                trainguard_client.guarded_load(CLEAN)
        with mock.patch.dict(os.environ, {"PATH": self.tmp}):
            os.environ.pop("TRAINGUARD_BIN", None)
            with self.assertRaisesRegex(ScanUnavailable, "not found"):
                trainguard_client.guarded_load(CLEAN)
            with self.assertRaises(ScanUnavailable):
                trainguard_client.install_load_guard()
        self.assertEqual([], self.sentinel.calls)

    def test_a_scanner_that_prints_no_report_is_an_error(self):
        with mock.patch.dict(os.environ, {"TRAINGUARD_BIN": self.script("echo 'not json'; exit 0")}):
            with self.assertRaisesRegex(ScanUnavailable, "without a JSON report"):
                trainguard_client.guarded_load(CLEAN)
        self.assertEqual([], self.sentinel.calls)

    def test_only_a_clean_verdict_loads(self):
        for verdict in ("suspicious", "error", "skipped", "malicious"):
            report = json.dumps({"verdict": verdict, "files": [{"path": "x", "verdict": verdict, "findings": []}]})
            with mock.patch.dict(os.environ, {"TRAINGUARD_BIN": self.script("echo '%s'; exit 1" % report)}):
                with self.assertRaises(LoadRefused) as refused:
                    trainguard_client.guarded_load(CLEAN)
                self.assertEqual(verdict, refused.exception.verdict)
        self.assertEqual([], self.sentinel.calls)
        with mock.patch.dict(os.environ, {"TRAINGUARD_BIN": self.script("echo '{\"verdict\": \"clean\", \"files\": []}'")}):
            self.assertEqual("loaded", trainguard_client.guarded_load(CLEAN, map_location="cpu"))


class RealScanner(unittest.TestCase):
    """With the trainguard CLI ($TRAINGUARD_BIN or out/trainguard/trainguard)."""

    def setUp(self):
        binary = support.trainguard_bin()
        if binary is None:
            self.skipTest("no trainguard CLI: set TRAINGUARD_BIN or dotnet build src/TrainGuard.Cli -o out/trainguard")
        self._env = mock.patch.dict(os.environ, {"TRAINGUARD_BIN": binary})
        self._env.start()
        self._tmp = tempfile.TemporaryDirectory(prefix="tg-guard-test-")
        self.tmp = self._tmp.name

    def tearDown(self):
        trainguard_client.uninstall_load_guard()
        self._env.stop()
        self._tmp.cleanup()

    def test_the_malicious_fixture_is_refused_with_the_finding_and_never_loaded(self):
        sentinel = Sentinel()
        events = os.path.join(self.tmp, "events.jsonl")
        with mock.patch.object(torch, "load", sentinel), mock.patch.dict(os.environ, {"TRAINGUARD_EVENTS_FILE": events}):
            with self.assertRaises(LoadRefused) as refused:
                trainguard_client.guarded_load(MALICIOUS)
        self.assertEqual([], sentinel.calls)
        self.assertEqual("malicious", refused.exception.verdict)
        self.assertIn("TG-PKL-001", str(refused.exception))
        self.assertIn("os.system('id')", str(refused.exception))
        event = support.read_events(events)[0]
        self.assertEqual(("run-load-refused", "alert"), (event["event"]["action"], event["event"]["kind"]))
        self.assertEqual("TG-RUN-010", event["trainguard"]["finding"]["rule"])
        self.assertEqual("TG-PKL-001", event["trainguard"]["scan"]["findings"][0]["rule"])

    def test_a_clean_checkpoint_loads_with_torch(self):
        state = trainguard_client.guarded_load(CLEAN, map_location="cpu")
        self.assertTrue(all(isinstance(v, torch.Tensor) for v in state.values()))

    def test_the_installed_guard_wraps_transformers_load_state_dict_when_it_is_importable(self):
        import sys
        import types

        calls = []
        package = types.ModuleType("transformers")
        modeling_utils = types.ModuleType("transformers.modeling_utils")
        modeling_utils.load_state_dict = lambda checkpoint_file, *args, **kwargs: calls.append(checkpoint_file) or {}
        package.modeling_utils = modeling_utils
        with mock.patch.dict(sys.modules, {"transformers": package, "transformers.modeling_utils": modeling_utils}):
            self.assertIn("transformers.modeling_utils.load_state_dict", trainguard_client.install_load_guard())
            with self.assertRaises(LoadRefused):
                modeling_utils.load_state_dict(MALICIOUS)
            self.assertEqual([], calls)
            self.assertEqual({}, modeling_utils.load_state_dict(CLEAN))
            self.assertEqual([CLEAN], calls)
            trainguard_client.uninstall_load_guard()
            self.assertFalse(hasattr(modeling_utils.load_state_dict, "_trainguard_original"))

    def test_the_installed_guard_stands_in_front_of_torch_load_for_paths_and_file_objects(self):
        wrapped = trainguard_client.install_load_guard()
        self.assertIn("torch.load", wrapped)
        original = torch.load._trainguard_original
        sentinel = Sentinel()
        torch.load._trainguard_original = sentinel
        try:
            with self.assertRaises(LoadRefused):
                torch.load(MALICIOUS)
            copy = os.path.join(self.tmp, "copy.pt")
            shutil.copyfile(MALICIOUS, copy)
            with open(copy, "rb") as handle, self.assertRaises(LoadRefused):
                torch.load(handle)
            self.assertEqual([], sentinel.calls)
        finally:
            torch.load._trainguard_original = original
        self.assertTrue(isinstance(torch.load(CLEAN, map_location="cpu"), dict))
        trainguard_client.uninstall_load_guard()
        self.assertFalse(hasattr(torch.load, "_trainguard_original"))


if __name__ == "__main__":
    unittest.main()
