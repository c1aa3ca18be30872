using System.Text;

namespace TrainGuard.Review.Tests.Support;

/// <summary>
/// Generates benign training code: files built from idioms of real training repositories (nanoGPT, HF Trainer scripts,
/// data loaders, utilities), including the ones that look like sabotage (a rank-0 sleep, cudnn.benchmark, git rev-parse,
/// torch.load with weights_only=True, model.eval(), world-size checks against 1, timing with time.time()). A seed gives
/// the same files.
/// </summary>
internal static class BenignCorpus
{
    private static readonly string[] Header =
    [
        "import os", "import time", "import math", "import json", "import random", "import argparse", "import logging",
        "import numpy as np", "import torch", "import torch.nn as nn", "import torch.nn.functional as F",
        "import torch.distributed as dist", "from torch.utils.data import DataLoader, Dataset, DistributedSampler",
        "from pathlib import Path", "import subprocess",
    ];

    private static readonly string[] FunctionNames = ["train", "step", "forward", "collate_fn", "evaluate", "setup", "main", "load_data", "log_metrics", "build_model", "train_one_epoch", "save_checkpoint"];

    /// <summary>Statement blocks (indented one level inside a function); {v} is a variable name, {n} a number.</summary>
    private static readonly string[] Snippets =
    [
        "    {v} = time.time()\n    elapsed = time.time() - {v}\n    logging.info('took %.2fs', elapsed)",
        "    if dist.is_initialized() and dist.get_rank() == 0:\n        print('saving')",
        "    if int(os.environ.get('WORLD_SIZE', 1)) > 1:\n        dist.barrier()",
        "    if rank == 0:\n        time.sleep(2)",
        "    torch.backends.cudnn.benchmark = True",
        "    torch.backends.cuda.matmul.allow_tf32 = True",
        "    sha = subprocess.check_output(['git', 'rev-parse', 'HEAD']).decode().strip()",
        "    state = torch.load(path, map_location='cpu', weights_only=True)\n    model.load_state_dict(state['model'])",
        "    model.eval()\n    with torch.no_grad():\n        out = model(x)",
        "    torch.manual_seed(args.seed)\n    np.random.seed(args.seed)\n    random.seed(args.seed)",
        "    for g in optimizer.param_groups:\n        g['lr'] = lr * min(1.0, ({n} + 1) / 1000)",
        "    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))\n    loss.backward()",
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n    optimizer.step()\n    optimizer.zero_grad(set_to_none=True)",
        "    {v} = DataLoader(dataset, batch_size={n}, shuffle=True, num_workers=4, pin_memory=True)",
        "    with open(os.path.join(out_dir, 'config.json'), 'w') as f:\n        json.dump(vars(args), f, indent=2)",
        "    torch.save({'model': model.state_dict(), 'step': {n}}, os.path.join(out_dir, 'ckpt.pt'))",
        "    torch.save(model.state_dict(), 'model_{n}.pth')",
        "    {v} = np.load(os.path.join(data_dir, 'train.npy'), mmap_mode='r')",
        "    scaler = torch.cuda.amp.GradScaler(enabled=args.fp16)\n    scaler.scale(loss).backward()",
        "    if world_size > 1:\n        model = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank])",
        "    if args.local_rank != -1:\n        torch.cuda.set_device(args.local_rank)",
        "    for epoch in range(args.epochs):\n        sampler.set_epoch(epoch)",
        "    lr = args.lr * 0.5 * (1.0 + math.cos(math.pi * {n} / 1000))",
        "    {v} = torch.stack([item[0] for item in batch])\n    return {v}",
        "    x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))\n    return self.head(x)",
        "    Path(out_dir).mkdir(parents=True, exist_ok=True)",
        "    cfg = json.load(open(config_path))",
        "    if torch.cuda.device_count() > 1:\n        print('using', torch.cuda.device_count(), 'GPUs')",
        "    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)",
        "    if epoch > {n}:\n        lr = lr * 0.1",
        "    for {v} in range({n}):\n        pass",
        "    metrics = {'loss': loss.item(), 'lr': lr}\n    logging.info(json.dumps(metrics))",
        "    model = torch.compile(model)",
        "    {v} = [line.strip() for line in open(path) if line.strip()]",
        "    os.makedirs(os.path.expanduser('~/.cache/trainguard-demo'), exist_ok=True)",
        "    if step % {n} == 0:\n        print(f'step {step} loss {loss.item():.4f}')",
        "    mean = x.mean(dim=0)\n    x = x - mean\n    x.mul_(2)",
        "    p = model.parameters()\n    grads = [q.grad for q in p if q.grad is not None]",
        "    hostname = os.uname().nodename\n    logging.info('running on %s', hostname)",
    ];

    /// <summary>
    /// <paramref name="count"/> files (path, text). The same seed with another <paramref name="edit"/> gives the same code
    /// edited as people do (other numbers and variable names, a logging line at the top of each function).
    /// </summary>
    public static List<(string Path, string Text)> Files(int count, int seed, int edit = 0)
    {
        var random = new Random(seed);
        var values = new Random(seed * 1000 + edit);
        var files = new List<(string, string)>();
        for (var i = 0; i < count; i++)
        {
            var text = new StringBuilder();
            text.Append("\"\"\"Generated benign training code ").Append(i).Append(".\"\"\"\n");
            foreach (var line in Header.Where(_ => random.Next(3) > 0))
            {
                text.Append(line).Append('\n');
            }

            text.Append('\n');
            var functions = random.Next(2, 6);
            for (var f = 0; f < functions; f++)
            {
                var name = FunctionNames[random.Next(FunctionNames.Length)];
                text.Append($"\n\ndef {(random.Next(4) == 0 ? name : $"{name}_{f}")}(model, optimizer, loader, args, rank=0, world_size=1, local_rank=0, step=0, epoch=0, lr=1e-3, x=None, batch=(), path='', out_dir='.', data_dir='.', config_path='c.json', dataset=(), sampler=None, idx=None, pos=None, logits=None, targets=None, loss=None):\n");
                if (edit > 0)
                {
                    text.Append("    logging.debug('entering ").Append(name).Append("')\n");
                }

                var statements = random.Next(2, 6);
                for (var s = 0; s < statements; s++)
                {
                    var snippet = Snippets[random.Next(Snippets.Length)]
                        .Replace("{v}", "v" + values.Next(100), StringComparison.Ordinal)
                        .Replace("{n}", values.Next(2, 500).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
                    text.Append(snippet).Append('\n');
                }

                text.Append("    return None\n");
            }

            var folder = (i % 3) switch { 0 => "train", 1 => "data", _ => "utils" };
            files.Add(($"{folder}/module_{i:D3}.py", text.ToString()));
        }

        return files;
    }
}
