namespace TrainGuard.Cli;

/// <summary>A usage or configuration problem the CLI reports as one line and exit code 2.</summary>
public sealed class CliException : Exception
{
    public CliException()
    {
    }

    public CliException(string message)
        : base(message)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
