"""The watcher on Debian's torch: metrics per step, the cosine of flipped steps, events, transport, HF callback."""

import collections
import json
import os
import re
import socket
import tempfile
import time
import unittest
import warnings

import support  # noqa: F401  (puts the client and the examples on sys.path)
import torch

import sabotage
import train_tiny
import trainguard_client
from trainguard_client.hf import TrainGuardCallback

UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Workdir(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="tg-client-test-")
        self.tmp = self._tmp.name
        self._saved_steps = support.SavedSteps(torch.optim.AdamW, torch.optim.Adam)

    def tearDown(self):
        self._saved_steps.restore()
        self._tmp.cleanup()

    def train(self, name, **options):
        path = os.path.join(self.tmp, name + ".jsonl")
        train_tiny.train(events=path, run_id=name, **options)
        return support.read_events(path)


class CosineTests(Workdir):
    def test_clean_run_has_no_step_with_negative_cosine_and_well_formed_events(self):
        events = self.train("clean", steps=150)
        steps = support.steps(events)
        self.assertEqual(list(range(1, 151)), [s["step"] for s in steps])
        cosines = [s["cosine"] for s in steps[1:]]  # step 1 runs at lr 0 (warm-up): no update, cosine 0
        self.assertTrue(all(c > 0 for c in cosines), min(cosines))
        self.assertTrue(all(s["moment_cosine"] > 0.999 for s in steps))
        for event in events:
            self.assertRegex(event["id"], UUID7)
            self.assertRegex(event["@timestamp"], TIMESTAMP)
            self.assertEqual(("run", "run"), (event["event"]["module"], event["event"]["dataset"]))
            self.assertEqual("clean", event["trainguard"]["run"]["id"])
            self.assertEqual((0, 1), (event["trainguard"]["run"]["rank"], event["trainguard"]["run"]["world_size"]))
        started = events[0]
        self.assertEqual("run-started", started["event"]["action"])
        self.assertEqual("42", started["trainguard"]["run"]["seed"]["initial"])
        self.assertEqual("torch.optim.adamw.AdamW", started["trainguard"]["run"]["optimizer"])
        self.assertTrue(all(a["event"]["outcome"] == "success" for a in support.attestations(events)))
        self.assertEqual(0.0, steps[0]["lr"][0])
        self.assertAlmostEqual(0.001 * 9 / 10, steps[9]["lr"][0], places=9)  # warm-up: step 10 runs at factor 9/10
        self.assertTrue(all(len(s["batch_hash"]) == 64 for s in steps))
        self.assertEqual("42", steps[49]["seed"])
        self.assertRegex(steps[49]["rng_hash"], "^[0-9a-f]{64}$")

    def test_flipped_steps_have_a_negative_moment_cosine_exactly_and_mostly_a_negative_cosine(self):
        truth = os.path.join(self.tmp, "truth.json")
        sabotage.install(start=60, flip=0.25, sleep=0.0, sleep_ms=0, min_world_size=0, seed=7, truth=truth)
        events = self.train("sabotaged", steps=200)
        with open(truth, encoding="utf-8") as handle:
            flipped = set(json.load(handle)["flipped"])
        self.assertGreater(len(flipped), 10)
        steps = support.steps(events)
        # The gradient folded into AdamW's first moment points against the gradient on exactly the flipped steps.
        moment_negative = {s["step"] for s in steps if s["moment_cosine"] < 0}
        self.assertEqual(sorted(flipped), sorted(moment_negative))
        self.assertTrue(all(abs(s["moment_cosine"]) > 0.999 for s in steps[1:]))
        # The applied update carries momentum: most flipped steps, and no step before the first flip, have cos < 0.
        negative = {s["step"] for s in steps if s["cosine"] < 0}
        self.assertGreaterEqual(len(negative & flipped), 0.85 * len(flipped))
        self.assertFalse({n for n in negative if n < min(flipped)})
        self.assertEqual("failure", support.attestations(events)[0]["event"]["outcome"])

    def test_a_rerun_has_the_same_batches_and_another_data_order_differs_from_the_first_step(self):
        first = support.steps(self.train("a", steps=20, data_seed=0, rng_every=5))
        again = support.steps(self.train("b", steps=20, data_seed=0, rng_every=5))
        other = support.steps(self.train("c", steps=20, data_seed=1, rng_every=5))
        for name in ("batch_hash", "loss", "rng_hash", "cosine"):
            self.assertEqual([s.get(name) for s in first], [s.get(name) for s in again], name)
        reseeded = support.steps(self.train("d", steps=5, seed=43, rng_every=5))
        self.assertNotEqual(first[4]["rng_hash"], reseeded[4]["rng_hash"])
        self.assertEqual(("42", "43"), (first[4]["seed"], reseeded[4]["seed"]))
        self.assertNotEqual(first[0]["batch_hash"], other[0]["batch_hash"])

    def test_the_client_never_draws_from_the_training_random_streams(self):
        torch.manual_seed(5)
        model = torch.nn.Linear(8, 2)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        state = torch.get_rng_state()
        run = trainguard_client.watch(optimizer, run_id="rng", sink=support.MemorySink(), sample_every=1, rng_every=1)
        model(torch.ones(2, 8)).sum().backward()
        optimizer.step()
        run.close()
        self.assertTrue(torch.equal(state, torch.get_rng_state()))

    def test_sampled_steps_are_drawn_at_random_one_in_sample_every_on_average(self):
        chosen = []
        for _ in range(2):
            model = torch.nn.Linear(4, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
            sink = support.MemorySink()
            run = trainguard_client.watch(optimizer, run_id="sampling", sink=sink, sample_every=4, attest_every=0)
            for _ in range(400):
                model(torch.ones(1, 4)).sum().backward()
                optimizer.step()
                optimizer.zero_grad()
            self.assertTrue(run.close())
            chosen.append({s["step"] for s in support.steps(sink.events) if s["cosine"] is not None})
        for steps in chosen:
            self.assertTrue(60 <= len(steps) <= 140, len(steps))  # 100 expected; outside is under one in a million
            self.assertNotEqual({s for s in range(1, 401) if s % 4 == 0}, steps)
        self.assertNotEqual(chosen[0], chosen[1])  # a fresh draw per run: no schedule to learn

    def test_non_finite_loss_is_sent_as_null_and_named(self):
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        sink = support.MemorySink()
        run = trainguard_client.watch(optimizer, run_id="nan", sink=sink, sample_every=1)
        model(torch.ones(1, 4)).sum().backward()
        run.record_loss(torch.tensor(float("nan")))
        optimizer.step()
        self.assertTrue(run.close())
        step = support.steps(sink.events)[0]
        self.assertIsNone(step["loss"])
        self.assertEqual(["loss"], step["nonfinite"])
        json.dumps(sink.events, allow_nan=False)


class WrapperTests(Workdir):
    def test_a_scheduler_made_before_or_after_watch_keeps_counting_without_warnings(self):
        for order in ("before", "after"):
            model = torch.nn.Linear(4, 1)
            optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
            sink = support.MemorySink()
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                if order == "before":
                    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)
                run = trainguard_client.watch(optimizer, run_id=order, sink=sink)
                if order == "after":
                    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.5)
                for _ in range(3):
                    model(torch.ones(1, 4)).sum().backward()
                    optimizer.step()
                    scheduler.step()
            self.assertTrue(run.close())
            self.assertEqual([0.1, 0.05, 0.025], [s["lr"][0] for s in support.steps(sink.events)], order)
            self.assertEqual("success", support.attestations(sink.events)[0]["event"]["outcome"], order)

    def test_close_removes_the_wrapper(self):
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = trainguard_client.watch(optimizer, run_id="x", sink=support.MemorySink())
        run.close()
        self.assertNotIn("step", vars(optimizer))
        self.assertEqual(0, len(getattr(optimizer, "_optimizer_step_post_hooks", {})))

    def test_an_accelerate_style_wrapper_is_unwrapped(self):
        model = torch.nn.Linear(4, 1)
        inner = torch.optim.SGD(model.parameters(), lr=0.1)

        class AcceleratedOptimizer(torch.optim.Optimizer):
            # as accelerate's: a torch Optimizer subclass that never runs Optimizer.__init__ and delegates to .optimizer
            def __init__(self, optimizer):  # noqa: super-init-not-called
                self.optimizer = optimizer

        run = trainguard_client.watch(AcceleratedOptimizer(inner), run_id="acc", sink=support.MemorySink())
        self.assertIs(inner, run.optimizer)
        run.close()
        with self.assertRaises(TypeError):
            trainguard_client.watch(object(), sink=support.MemorySink())


class HookedSGD(torch.optim.SGD):
    """torch 2.x's step-hook interface on torch 1.13: per-optimizer pre/post hook registries called around step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._optimizer_step_pre_hooks = collections.OrderedDict()
        self._optimizer_step_post_hooks = collections.OrderedDict()

    def register_step_pre_hook(self, hook):
        return _Handle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        return _Handle(self._optimizer_step_post_hooks, hook)

    def step(self, closure=None):
        for hook in list(self._optimizer_step_pre_hooks.values()):
            hook(self, (), {})
        result = super().step(closure)
        for hook in list(self._optimizer_step_post_hooks.values()):
            hook(self, (), {})
        return result


class _Handle:
    def __init__(self, registry, hook):
        self.registry, self.key = registry, len(registry)
        registry[self.key] = hook

    def remove(self):
        self.registry.pop(self.key, None)


class StepHookTests(Workdir):
    def test_with_step_hooks_the_client_uses_them_and_attestation_accepts_only_its_own(self):
        model = torch.nn.Linear(4, 1)
        # torch 2.x has step hooks of its own; on torch 1.13 an imitation of that interface stands in.
        native = hasattr(torch.optim.SGD, "register_step_post_hook")
        optimizer = (torch.optim.SGD if native else HookedSGD)(model.parameters(), lr=0.1, momentum=0.9)
        sink = support.MemorySink()
        run = trainguard_client.watch(optimizer, run_id="hooks", sink=sink, sample_every=1)
        self.assertNotIn("step", vars(optimizer))
        self.assertEqual((1, 1), (len(optimizer._optimizer_step_pre_hooks), len(optimizer._optimizer_step_post_hooks)))
        for _ in range(3):
            model(torch.ones(2, 4)).sum().backward()
            optimizer.step()
            optimizer.zero_grad()
        self.assertTrue(all(c["ok"] for c in run.attest("test")))
        optimizer.register_step_post_hook(lambda opt, args, kwargs: None)
        hooks = {c["name"]: c for c in run.attest("test")}["hooks"]
        self.assertFalse(hooks["ok"])
        self.assertIn("_optimizer_step_post_hooks", hooks["detail"])
        run.close()
        self.assertEqual((0, 1), (len(optimizer._optimizer_step_pre_hooks), len(optimizer._optimizer_step_post_hooks)))
        steps = support.steps(sink.events)
        self.assertEqual([1, 2, 3], [s["step"] for s in steps])
        self.assertTrue(all(s["moment_cosine"] > 0.999 for s in steps))  # SGD's momentum_buffer


class TransportTests(Workdir):
    def assert_steps_stay_fast(self, run, optimizer, model, count=60, budget=0.25):
        worst = 0.0
        for _ in range(count):
            model(torch.ones(2, 4)).sum().backward()
            started = time.perf_counter()
            optimizer.step()
            worst = max(worst, time.perf_counter() - started)
            optimizer.zero_grad()
        self.assertLess(worst, budget)

    def test_a_dead_server_never_blocks_a_step_and_drops_are_counted(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = trainguard_client.watch(optimizer, run_id="dead", server="http://127.0.0.1:%d" % port, token="t",
                                      queue_size=8, buffer_size=16, flush_interval=0.01)
        self.assert_steps_stay_fast(run, optimizer, model, count=200)
        started = time.monotonic()
        self.assertFalse(run.close(timeout=1.0))
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertGreater(run.dropped, 0)
        self.assertIn("URLError", run.outbox.last_error or "")

    def test_a_server_that_accepts_and_never_answers_never_blocks_a_step(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)  # connections complete in the backlog; nothing is ever read or answered
        try:
            model = torch.nn.Linear(4, 1)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
            run = trainguard_client.watch(optimizer, run_id="hang", server="http://127.0.0.1:%d" % listener.getsockname()[1],
                                          token="t", flush_interval=0.01)
            self.assert_steps_stay_fast(run, optimizer, model)
            started = time.monotonic()
            run.close(timeout=0.5)
            self.assertLess(time.monotonic() - started, 3.0)
        finally:
            listener.close()

    def test_dropped_events_are_reported_when_the_destination_comes_back(self):
        sink = support.MemorySink(failures=3)
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = trainguard_client.watch(optimizer, run_id="drop", sink=sink, queue_size=4, buffer_size=8, flush_interval=0.01)
        run.outbox._retry_max = 0.05
        for _ in range(50):
            model(torch.ones(2, 4)).sum().backward()
            optimizer.step()
        self.assertTrue(run.close(timeout=10.0))
        dropped = [e for e in sink.events if e["event"]["action"] == "run-telemetry-dropped"]
        self.assertTrue(dropped)
        self.assertGreater(dropped[-1]["trainguard"]["client"]["dropped"], 0)
        self.assertEqual(run.dropped, dropped[-1]["trainguard"]["client"]["dropped"])

    def test_plain_http_to_another_machine_and_a_server_without_token_are_refused(self):
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        with self.assertRaisesRegex(ValueError, "https"):
            trainguard_client.watch(optimizer, server="http://tg.example.org:8470", token="t")
        with self.assertRaisesRegex(ValueError, "token"):
            trainguard_client.watch(optimizer, server="https://tg.example.org", token=None)
        self.assertNotIn("step", vars(optimizer))

    def serve(self, answers):
        """A loopback HTTP server answering POSTs with (status, body) from `answers` (the last one repeats)."""
        import http.server
        import threading

        received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Authorization"], json.loads(body)))
                status, answer = answers[min(len(received), len(answers)) - 1]
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return "http://127.0.0.1:%d" % server.server_port, received

    def test_events_post_as_the_server_expects(self):
        url, received = self.serve([(200, {"appended": 3})])
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = trainguard_client.watch(optimizer, run_id="post", server=url, token="secret")
        model(torch.ones(1, 4)).sum().backward()
        optimizer.step()
        self.assertTrue(run.close(timeout=10.0))
        self.assertTrue(received)
        path, authorization, body = received[0]
        self.assertEqual(("/api/v1/events", "Bearer secret"), (path, authorization))
        actions = [e["event"]["action"] for _, _, b in received for e in b["events"]]
        self.assertEqual(["run-started", "run-attestation", "run-step"], actions)

    def test_a_refused_batch_is_dropped_and_counted_and_sending_goes_on(self):
        invalid = {"title": "Invalid events", "detail": "1 of the batch's events are invalid; nothing was stored."}
        partial = {"results": [{"status": "accepted"}, {"status": "refused", "reason": "host.name 'x' is not bound"}]}
        url, received = self.serve([(400, invalid), (207, partial), (200, {})])
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        run = trainguard_client.watch(optimizer, run_id="refused", server=url, token="t", flush_interval=0.01)
        for _ in range(3):
            model(torch.ones(1, 4)).sum().backward()
            optimizer.step()
            self.assertTrue(run.flush(timeout=10.0))
        self.assertTrue(run.close(timeout=10.0))
        self.assertGreaterEqual(len(received), 3)  # the refused batch was not retried forever
        reports = [e for _, _, b in received for e in b["events"] if e["event"]["action"] == "run-telemetry-dropped"]
        self.assertTrue(reports)
        client = reports[-1]["trainguard"]["client"]
        self.assertEqual(run.outbox.refused, client["refused"])
        self.assertEqual(len(received[0][2]["events"]) + 1, client["refused"])  # the whole first batch, one of the second
        self.assertIn("not stored: host.name", run.outbox.last_error)


class FakeState:
    global_step = 0


class FakeControl:
    should_training_stop = False


class FakeArgs:
    run_name = "hf-run"
    seed = 42


class CallbackTests(Workdir):
    def test_trainer_callback_watches_the_optimizer_it_is_given_and_tolerates_every_event(self):
        path = os.path.join(self.tmp, "hf.jsonl")
        callback = TrainGuardCallback(events_file=path, sample_every=1)
        args, state, control = FakeArgs(), FakeState(), FakeControl()
        model = torch.nn.Linear(4, 1)
        optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
        self.assertIsNone(callback.on_init_end(args, state, control))
        callback.on_train_begin(args, state, control, model=model, optimizer=optimizer, lr_scheduler=None)
        for _ in range(3):
            callback.on_step_begin(args, state, control)
            loss = model(torch.ones(2, 4)).pow(2).mean()
            loss.backward()
            callback.on_pre_optimizer_step(args, state, control)
            optimizer.step()
            callback.on_optimizer_step(args, state, control)
            optimizer.zero_grad()
            state.global_step += 1
            callback.on_log(args, state, control, logs={"loss": float(loss)})
            callback.on_step_end(args, state, control)
        callback.on_some_future_event(args, state, control)
        callback.on_train_end(args, state, control)
        self.assertIsNone(callback.error)
        events = support.read_events(path)
        self.assertEqual("hf-run", events[0]["trainguard"]["run"]["id"])
        self.assertEqual([1, 2, 3], [s["step"] for s in support.steps(events)])
        with self.assertRaises(AttributeError):
            callback.not_an_event  # noqa: B018

    def test_importing_the_callback_does_not_import_transformers(self):
        import subprocess
        import sys

        code = "import sys; sys.path.insert(0, %r); import trainguard_client.hf; print('transformers' in sys.modules)" % support.CLIENT
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        self.assertEqual("False", result.stdout.strip())


if __name__ == "__main__":
    unittest.main()
