using BenchmarkDotNet.Running;
using TrainGuard.Benchmarks;

// `write-corpus DIR` writes the benchmark inputs as files, so whole-process figures (wall time, peak RSS)
// can be taken with `/usr/bin/time -v trainguard scan DIR/...`; anything else goes to BenchmarkDotNet.
if (args is ["write-corpus", var dir])
{
    Directory.CreateDirectory(dir);
    File.WriteAllBytes(Path.Combine(dir, "many-small-objects-51mb.pkl"), PickleCorpus.ManySmallObjects(PickleCorpus.ItemsFor51MB));
    BigCheckpoint.Write(Path.Combine(dir, "multi-gb-checkpoint.pt"), ScannerBenchmarks.FixturePath("benign", "tiny-model-state-dict.pt"), storages: 3, 1_200_000_000);
    Console.WriteLine($"wrote {dir}/many-small-objects-51mb.pkl and {dir}/multi-gb-checkpoint.pt");
    return 0;
}

// `ingest-load --cli PATH ...` measures the shipped server from outside its process (scripts/bench-ingest.sh).
if (args is ["ingest-load", .. var load])
{
    return await IngestLoad.RunAsync(load);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
