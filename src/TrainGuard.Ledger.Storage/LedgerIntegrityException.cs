namespace TrainGuard.Ledger.Storage;

/// <summary>Thrown when stored ledger data is inconsistent (a missing row, a head beyond the stored leaves): evidence of tampering or corruption.</summary>
public sealed class LedgerIntegrityException : Exception
{
    public LedgerIntegrityException()
    {
    }

    public LedgerIntegrityException(string message)
        : base(message)
    {
    }

    public LedgerIntegrityException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
