namespace TrainGuard.Server.Events;

/// <summary>An event id was sent again with different content: the batch is refused.</summary>
public sealed class EventConflictException : Exception
{
    public EventConflictException()
    {
    }

    public EventConflictException(string message)
        : base(message)
    {
    }

    public EventConflictException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public EventConflictException(int batchIndex, string id, long existingIndex)
        : base($"event {batchIndex}: id {id} is already stored at leaf {existingIndex} with different content")
    {
        BatchIndex = batchIndex;
        Id = id;
        ExistingIndex = existingIndex;
    }

    public int BatchIndex { get; }

    public string Id { get; } = string.Empty;

    public long ExistingIndex { get; }
}
