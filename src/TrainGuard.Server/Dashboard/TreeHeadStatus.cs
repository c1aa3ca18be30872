namespace TrainGuard.Server.Dashboard;

/// <summary>
/// The latest signed tree head and what the server checked about it: its signature, its consistency with the tree head
/// before it and with the newest one witnesses cosigned.
/// </summary>
public sealed record TreeHeadStatus(
    long Size,
    string RootHex,
    string Note,
    DateTimeOffset? CreatedAt,
    bool SignatureVerifies,
    long? PreviousSize,
    bool? ConsistentWithPrevious,
    long? CosignedSize,
    int Cosignatures,
    bool? ConsistentWithCosigned);
