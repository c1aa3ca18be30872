namespace TrainGuard.Findings;

/// <summary>
/// Where a finding is: the file on disk, the member inside an archive (a path such as
/// <c>archive/data.pkl</c>, nested members joined with <c>!/</c>), and the byte offset inside that
/// member (or inside the file, when there is no member).
/// </summary>
public sealed record Location(string File, string? Member = null, long? Offset = null, int? Line = null)
{
    public override string ToString()
    {
        var text = File;
        if (Member is not null)
        {
            text += $" [{Member}]";
        }

        if (Offset is { } offset)
        {
            text += $" @0x{offset:x}";
        }

        if (Line is { } line)
        {
            text += $":{line}";
        }

        return text;
    }
}
