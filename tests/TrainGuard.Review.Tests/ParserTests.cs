using System.Text;
using TrainGuard.Parsing;
using TrainGuard.Review.Analysis;
using TrainGuard.Review.Parsing;

namespace TrainGuard.Review.Tests;

/// <summary>The two parsers: what each reads, that they agree, and that nothing parsed is ever run.</summary>
public sealed class ParserTests
{
    private const string Python2 = "import os\nprint \"hello\"\nexec \"x = 1\"\nos.kill(pid, 9)\n";
    private const string ConflictMarkers = "import torch\n<<<<<<< HEAD\nlr = 1e-3\n=======\nlr = -1e-3\n>>>>>>> feature\nopt = torch.optim.SGD(p, lr=-0.1)\n";

    [Fact]
    public void Tree_sitter_reads_python_2_and_conflict_markers_and_still_finds_patterns()
    {
        using var parser = Assert.IsType<TreeSitterParser>(PythonParsers.Create(ParserChoice.TreeSitter, out _));
        foreach (var (source, rule) in new[] { (Python2, "TG-REV-002"), (ConflictMarkers, "TG-REV-009") })
        {
            var parse = parser.Parse(Encoding.UTF8.GetBytes(source));
            Assert.NotNull(parse.Tree);
            using var reviewer = new FileReviewer(parser);
            Assert.Contains(reviewer.Review("train.py", null, Encoding.UTF8.GetBytes(source)).Findings, f => f.RuleId == rule);
        }
    }

    [Fact]
    public void The_ast_fallback_reports_a_file_it_cannot_parse_never_a_clean_one()
    {
        using var parser = PythonParsers.Create(ParserChoice.PythonAst, out _);
        using var reviewer = new FileReviewer(parser);
        var review = reviewer.Review("legacy.py", null, Encoding.UTF8.GetBytes(Python2));
        var finding = Assert.Single(review.Findings, f => f.RuleId == "TG-REV-050");
        Assert.Contains("python-ast", finding.Message, StringComparison.Ordinal);
        Assert.Contains("line 2", finding.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("import torch\ntorch.optim.AdamW.step = f\nx = torch.load(p, weights_only=False)\n")]
    [InlineData("from os import kill as k\nimport numpy as np\nk(1, 9)\nnp.load('a', allow_pickle=True)\n")]
    [InlineData("def step(self):\n    if int(os.environ['WORLD_SIZE']) > 512:\n        for p in ps:\n            p.grad.mul_(-1)\n")]
    [InlineData("s = 'a' 'b'\nf = f'{x!r:>10}'\nr = rb'\\x00'\nasync def forward(self):\n    await asyncio.sleep(1)\n    time.sleep(1)\n")]
    public void Both_parsers_give_the_same_findings(string source)
    {
        using var treeSitter = PythonParsers.Create(ParserChoice.TreeSitter, out _);
        using var ast = PythonParsers.Create(ParserChoice.PythonAst, out _);
        var bytes = Encoding.UTF8.GetBytes(source);
        using var a = new FileReviewer(treeSitter);
        using var b = new FileReviewer(ast);
        var fromTreeSitter = a.Review("train.py", null, bytes).Findings.Select(f => (f.RuleId, f.Severity, f.Location.Line)).ToList();
        var fromAst = b.Review("train.py", null, bytes).Findings.Select(f => (f.RuleId, f.Severity, f.Location.Line)).ToList();
        Assert.NotEmpty(fromTreeSitter);
        Assert.Equal(fromTreeSitter, fromAst);
    }

    [Fact]
    public void Nothing_parsed_is_run_by_either_parser()
    {
        var marker = Path.Combine(Path.GetTempPath(), "tg-review-never-" + Guid.NewGuid().ToString("N"));
        var hostile = $"import os\nos.system('touch {marker}')\nopen('{marker}', 'w').write('x')\n__import__('os').system('touch {marker}')\n";
        foreach (var choice in new[] { ParserChoice.TreeSitter, ParserChoice.PythonAst })
        {
            using var parser = PythonParsers.Create(choice, out _);
            Assert.NotNull(parser.Parse(Encoding.UTF8.GetBytes(hostile)).Tree);
        }

        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void Deep_nesting_does_not_exhaust_the_stack()
    {
        var deep = "x = " + new string('(', 5000) + "1" + new string(')', 5000) + "\n" + string.Concat(Enumerable.Repeat("[", 3000)) + string.Concat(Enumerable.Repeat("]", 3000)) + "\n";
        foreach (var choice in new[] { ParserChoice.TreeSitter, ParserChoice.PythonAst })
        {
            using var parser = PythonParsers.Create(choice, out _);
            using var reviewer = new FileReviewer(parser);
            _ = reviewer.Review("deep.py", null, Encoding.UTF8.GetBytes(deep));
        }
    }

    [Fact]
    public void Fuzzed_python_never_escapes_the_review_with_an_exception()
    {
        using var parser = PythonParsers.Create(ParserChoice.TreeSitter, out _);
        using var reviewer = new FileReviewer(parser);
        var seeds = new[] { Python2, ConflictMarkers, "import torch\ndef step(self):\n    if os.environ['RANK'] > '7':\n        exec(base64.b64decode(s))\n" }.Select(Encoding.UTF8.GetBytes).ToList();
        var ran = FuzzHarness.Run(data => Fuzz(reviewer, data), seeds, iterations: 400, alphabet: Encoding.ASCII.GetBytes("()[]{}:=.,'\"\n    #\\fbr"));
        Assert.Equal(400, ran);
    }

    /// <summary>The fuzz target: a review of any bytes as a changed Python file returns findings, never throws.</summary>
    private static void Fuzz(FileReviewer reviewer, ReadOnlySpan<byte> data)
    {
        var bytes = data.ToArray();
        var review = reviewer.Review("fuzz.py", bytes.Length > 4 ? bytes[..(bytes.Length / 2)] : null, bytes);
        if (review.Findings.Any(f => f.Message.Length > TrainGuard.Rules.RuleDefinition.MaxMessageLength + 1))
        {
            throw MalformedInputException.Create(InputErrorKind.Corrupt, "a message over the limit");
        }
    }
}
