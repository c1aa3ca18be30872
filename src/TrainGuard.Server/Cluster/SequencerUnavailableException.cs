namespace TrainGuard.Server.Cluster;

/// <summary>A batch handed to the sequencer was not appended in time (no server holds the sequencer role): answered 503, the batch stays staged.</summary>
public sealed class SequencerUnavailableException : Exception
{
    public SequencerUnavailableException()
    {
    }

    public SequencerUnavailableException(string message)
        : base(message)
    {
    }

    public SequencerUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
