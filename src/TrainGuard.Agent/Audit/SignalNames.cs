namespace TrainGuard.Agent.Audit;

/// <summary>Linux signal names (x86 and arm numbering, which the agent's architectures share).</summary>
public static class SignalNames
{
    private static readonly string[] Names =
    [
        "SIG0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL",
        "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
        "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
        "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS",
    ];

    /// <summary><c>SIGKILL</c> for 9, <c>SIGRTMIN+3</c> for 35, <c>SIG0</c> for the existence probe, <c>SIG?</c> otherwise.</summary>
    public static string Name(int number) => number switch
    {
        >= 0 and < 32 => Names[number],
        >= 32 and <= 64 => number == 32 ? "SIGRTMIN" : $"SIGRTMIN+{number - 32}",
        _ => $"SIG?{number}",
    };
}
