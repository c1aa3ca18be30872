"""The Hugging Face callback inside a real `transformers.Trainer` (CPU, a tiny regression model).

Debian 12 has no transformers: these tests run in the torch 2.x root of scripts/torch2-root.sh (Debian testing's
python3-torch, python3-transformers and python3-accelerate), where TRAINGUARD_REQUIRE_TRANSFORMERS=1 makes a missing
package a failure instead of a skip.
"""

import json
import os
import shutil
import tempfile
import unittest
from unittest import mock

import support
import torch

import sabotage
import trainguard_client
from trainguard_client.hf import TrainGuardCallback

try:
    import accelerate  # noqa: F401  (the Trainer needs it on torch)
    import transformers
except ImportError as error:  # pragma: no cover - depends on the machine
    transformers = None
    MISSING = str(error)
    if os.environ.get("TRAINGUARD_REQUIRE_TRANSFORMERS") == "1":
        raise
else:
    MISSING = None


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))

    def forward(self, x=None, labels=None):
        out = self.net(x).squeeze(-1)
        return {"loss": torch.nn.functional.mse_loss(out, labels), "logits": out}


class Data(torch.utils.data.Dataset):
    def __init__(self, n=512):
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(n, 16, generator=generator)
        self.y = self.x.sum(1)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, index):
        return {"x": self.x[index], "labels": self.y[index]}


@unittest.skipIf(transformers is None, "transformers is not installed here: %s" % MISSING)
class TrainerCallbackTests(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tg-hf-test-")
        self.tmp = self._tmp.name
        self.saved = support.SavedSteps(torch.optim.AdamW, torch.optim.Adam)

    def tearDown(self):
        self.saved.restore()
        self._tmp.cleanup()

    def train(self, steps, resume=None, **arguments):
        events = os.path.join(self.tmp, "events.jsonl")
        arguments.setdefault("save_strategy", "no")
        args = transformers.TrainingArguments(
            output_dir=os.path.join(self.tmp, "out"), max_steps=steps, per_device_train_batch_size=8,
            learning_rate=1e-3, logging_steps=1, report_to=[], seed=42, run_name="hf-run",
            use_cpu=True, disable_tqdm=True, **arguments)
        callback = TrainGuardCallback(events_file=events, sample_every=1)
        trainer = transformers.Trainer(model=Tiny(), args=args, train_dataset=Data(), callbacks=[callback])
        trainer.train(resume_from_checkpoint=resume)
        self.assertIsNone(callback.error)
        return trainer, support.read_events(events)

    def test_a_clean_trainer_run_is_watched_step_by_step_with_the_trainers_own_losses(self):
        trainer, events = self.train(24, gradient_accumulation_steps=2)
        started = events[0]
        self.assertEqual("run-started", started["event"]["action"])
        self.assertEqual("hf-run", started["trainguard"]["run"]["id"])
        # The Trainer's optimizer is accelerate's wrapper around torch's AdamW: the AdamW is what is watched.
        self.assertEqual("torch.optim.adamw.AdamW", started["trainguard"]["run"]["optimizer"])
        self.assertEqual(torch.__version__, started["trainguard"]["run"]["torch_version"])
        attestations = support.attestations(events)
        self.assertEqual(["success"], [a["event"]["outcome"] for a in attestations])
        steps = support.steps(events)
        self.assertEqual(list(range(1, 25)), [s["step"] for s in steps])
        # Each step carries the loss the Trainer logged for it (log_history), not the one before.
        logged = {entry["step"]: entry["loss"] for entry in trainer.state.log_history if "loss" in entry}
        self.assertEqual(24, len(logged))
        for step in steps:
            self.assertAlmostEqual(logged[step["step"]], step["loss"], delta=1e-5 * max(1.0, abs(step["loss"])))
        self.assertTrue(all(s["cosine"] > 0 and s["moment_cosine"] > 0.999 for s in steps), [s["cosine"] for s in steps])
        # lr as applied: the Trainer's default linear decay from 1e-3 over 24 steps
        self.assertAlmostEqual(1e-3, steps[0]["lr"][0], places=9)
        self.assertAlmostEqual(1e-3 * 23 / 24, steps[1]["lr"][0], places=9)

    def test_a_sabotaged_adamw_step_fails_attestation_and_every_flipped_step_is_found(self):
        truth = os.path.join(self.tmp, "truth.json")
        sabotage.install(start=8, flip=0.3, sleep=0.0, sleep_ms=0, min_world_size=0, seed=3, truth=truth)
        _, events = self.train(40)
        with open(truth, encoding="utf-8") as handle:
            flipped = set(json.load(handle)["flipped"])
        self.assertGreater(len(flipped), 4)
        failures = [a for a in support.attestations(events) if a["event"]["outcome"] == "failure"]
        self.assertTrue(failures)
        self.assertEqual("TG-RUN-001", failures[0]["trainguard"]["finding"]["rule"])
        self.assertIn("sabotage.py", failures[0]["trainguard"]["finding"]["message"])
        steps = support.steps(events)
        self.assertEqual(sorted(flipped), sorted(s["step"] for s in steps if s["moment_cosine"] < 0))


    def test_resuming_from_a_poisoned_checkpoint_is_refused_by_the_load_guard_before_anything_is_unpickled(self):
        binary = support.trainguard_bin()
        if binary is None:
            self.skipTest("no trainguard CLI: set TRAINGUARD_BIN or dotnet build src/TrainGuard.Cli -o out/trainguard")
        self.train(10, save_strategy="steps", save_steps=10)
        checkpoint = os.path.join(self.tmp, "out", "checkpoint-10")
        self.assertTrue(os.path.isfile(os.path.join(checkpoint, "optimizer.pt")), os.listdir(checkpoint))
        # The insider's move: a colleague's checkpoint, its optimizer state swapped for a pickle that runs a command.
        shutil.copyfile(os.path.join(support.FIXTURES, "malicious", "torch-zip-injected-keeps-object.pt"),
                        os.path.join(checkpoint, "optimizer.pt"))
        real_load = torch.load
        unpickled = []

        def load(f, *args, **kwargs):
            unpickled.append(str(f))
            return real_load(f, *args, **kwargs)

        with mock.patch.dict(os.environ, {"TRAINGUARD_BIN": binary}), mock.patch.object(torch, "load", load):
            self.assertIn("torch.load", trainguard_client.install_load_guard())
            try:
                with self.assertRaises(trainguard_client.LoadRefused) as refused:
                    self.train(20, resume=checkpoint, save_strategy="no")
            finally:
                trainguard_client.uninstall_load_guard()
        self.assertIn("optimizer.pt", str(refused.exception))
        self.assertIn("malicious", refused.exception.verdict)
        self.assertFalse([f for f in unpickled if f.endswith("optimizer.pt")], unpickled)


if __name__ == "__main__":
    unittest.main()
