using TrainGuard.Agent.Config;
using TrainGuard.Agent.Runtime;
using TrainGuard.Parsing;

namespace TrainGuard.Agent.Tests.Runtime;

/// <summary><c>agent-run CONFIG</c>: the agent host exactly as <c>trainguard agent run</c> starts it, until killed or stdin closes.</summary>
public static class AgentRunChild
{
    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 1)
        {
            return 2;
        }

        using var stop = new CancellationTokenSource();
        try
        {
            using var host = new AgentHost(AgentConfig.Load(args[0]), Console.Error);
            return await host.RunAsync(stop.Token);
        }
        catch (MalformedInputException ex)
        {
            // As the CLI does: the message, exit code 2.
            await Console.Error.WriteLineAsync("error: " + ex.Message);
            return 2;
        }
    }
}
