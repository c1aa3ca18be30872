namespace TrainGuard.Agent.Tests.Runtime;

/// <summary>Placeholder until the agent host exists.</summary>
public static class AgentRunChild
{
    public static Task<int> RunAsync(string[] args) => Task.FromResult(args.Length == 0 ? 2 : 0);
}
