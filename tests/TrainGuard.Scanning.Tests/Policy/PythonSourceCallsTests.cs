using TrainGuard.Scanning.Policy;

namespace TrainGuard.Scanning.Tests.Policy;

public class PythonSourceCallsTests
{
    [Fact]
    public void Calls_are_resolved_through_imports_aliases_and_builtins_with_their_line_and_function()
    {
        const string Source = """
            import os
            import subprocess as sp
            from shutil import rmtree as wipe
            # os.system('not a call: a comment')
            NoneType = type(None)

            def forward(self, x):
                s = "os.popen('not a call: a string')"
                sp.Popen(['echo', 'pwned'])
                wipe('/nonexistent')
                exec('1')
                y = (x).relu()
                return torch.relu(self.linear(x))
            os.system('id')
            """;

        var calls = PythonSourceCalls.Find(Source);

        Assert.Equal(
            ["builtins.type", "subprocess.Popen", "shutil.rmtree", "builtins.exec", "torch.relu", "self.linear", "os.system"],
            calls.Select(c => c.Name));
        var popen = calls.Single(c => c.Name == "subprocess.Popen");
        Assert.Equal("sp.Popen(['echo', 'pwned'])", popen.Text);
        Assert.Equal(9, popen.Line);
        Assert.Equal("forward", popen.Function);
        Assert.Null(calls.Single(c => c.Name == "os.system").Function);
    }

    [Fact]
    public void A_class_method_is_named_class_dot_method()
    {
        var call = Assert.Single(PythonSourceCalls.Find("class M(Module):\n  def __setstate__(self, state):\n    t = torch.from_file('/x', True, 16)\n"));
        Assert.Equal("torch.from_file", call.Name);
        Assert.Equal("M.__setstate__", call.Function);
    }
}
