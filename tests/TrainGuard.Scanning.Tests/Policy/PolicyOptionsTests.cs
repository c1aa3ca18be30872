using TrainGuard.Parsing;
using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

public sealed class PolicyOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("tg-policy-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Config_file_sets_profile_and_extra_allowed_globals()
    {
        var path = Write("policy.yaml", """
            # team policy
            profile: torch-weights
            allow:
              - mypkg.layers.Block
              - mypkg.data.*
            """);
        var options = PolicyOptions.LoadConfig(path);
        Assert.Equal(PolicyProfile.TorchWeights, options.Profile);
        Assert.Equal(["mypkg.layers.Block", "mypkg.data.*"], options.ExtraAllowed);
    }

    [Fact]
    public void Empty_config_file_gives_the_defaults()
    {
        var options = PolicyOptions.LoadConfig(Write("empty.yaml", "# nothing yet\n"));
        Assert.Equal(PolicyProfile.Default, options.Profile);
        Assert.Empty(options.ExtraAllowed);
    }

    [Theory]
    [InlineData("profile: default\nallow:\n  - mypkg.Thing\n  - os.*sys\n", 4, "os.*sys")]
    [InlineData("profile: default\nalow:\n  - mypkg.Thing\n", 2, "unknown key 'alow'")]
    [InlineData("profile: weights\n", 1, "profile must be one of")]
    [InlineData("allow: mypkg.Thing\n", 1, "'allow' must be a list")]
    [InlineData("allow:\n  - [nested]\n", 2, "must be a string")]
    [InlineData("allow:\n  - \"*\"\n", 2, "bad allow entry")]
    [InlineData("profile: default\nprofile: plain\n", 2, "uplicate key")]
    [InlineData("profile: default\nallow: [mypkg.Thing\n", 3, "not valid YAML")]
    [InlineData("- mypkg.Thing\n", 1, "expected a mapping")]
    public void Bad_config_is_reported_with_file_and_line(string yaml, int line, string problem)
    {
        var path = Write("bad.yaml", yaml);
        var ex = Assert.Throws<MalformedInputException>(() => PolicyOptions.LoadConfig(path));
        Assert.Equal(path, ex.Origin);
        Assert.Equal(line, ex.Line);
        Assert.Equal(InputErrorKind.Config, ex.Kind);
        Assert.StartsWith($"{path}:{line}: ", ex.Message, StringComparison.Ordinal);
        Assert.Contains(problem, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_config_file_names_the_file()
    {
        var path = Path.Combine(_dir, "missing.yaml");
        var ex = Assert.Throws<MalformedInputException>(() => PolicyOptions.LoadConfig(path));
        Assert.Equal(path, ex.Origin);
        Assert.Null(ex.Line);
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Oversized_config_file_is_refused_before_it_is_read()
    {
        var path = Write("huge.yaml", "allow:\n" + string.Concat(Enumerable.Repeat("  - mypkg.Thing\n", 70_000)));
        var ex = Assert.Throws<MalformedInputException>(() => PolicyOptions.LoadConfig(path));
        Assert.Contains("more than", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("default", PolicyProfile.Default)]
    [InlineData("torch-weights", PolicyProfile.TorchWeights)]
    [InlineData("numpy", PolicyProfile.Numpy)]
    [InlineData("hf-trainer", PolicyProfile.HfTrainer)]
    [InlineData("plain", PolicyProfile.Plain)]
    public void Profile_names_round_trip(string name, PolicyProfile profile)
    {
        Assert.Equal(profile, ProfileNames.Parse(name));
        Assert.Equal(name, profile.ToName());
    }

    [Fact]
    public void Unknown_profile_name_lists_the_valid_ones()
    {
        var ex = Assert.Throws<MalformedInputException>(() => ProfileNames.Parse("weights"));
        Assert.Contains("torch-weights", ex.Message, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }
}
