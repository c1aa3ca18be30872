namespace TrainGuard.Review;

/// <summary>A review that cannot be made as asked (no such repository, range, revision or file); the CLI exits 2 with its message.</summary>
public sealed class ReviewException : Exception
{
    public ReviewException()
    {
    }

    public ReviewException(string message)
        : base(message)
    {
    }

    public ReviewException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
