using System.Text.Json;
using TrainGuard.Events;

namespace TrainGuard.Server.Events;

/// <summary>
/// The query-index columns of one stored event, derived from its committed canonical JSON alone (so an audit can
/// re-derive them): <c>@timestamp</c> as Unix microseconds, <c>host.name</c>, <c>user.name</c>, <c>event.action</c>, and
/// the event's <c>id</c>. An event the server marked <c>trainguard.submitter.timestamp_outside_window</c> is indexed at
/// its <c>event.ingested</c> time instead of the implausible <c>@timestamp</c> it claims.
/// </summary>
public sealed record EventIndexRow(long Index, long TimestampMicros, string? Host, string? User, string Action, string? EventId = null)
{
    /// <summary>Reads the indexed fields out of an event's JSON; null when the entry is not a well-formed event.</summary>
    public static EventIndexRow? FromEntry(long index, ReadOnlySpan<byte> json)
    {
        string? timestamp = null, host = null, user = null, action = null, id = null, ingested = null;
        var outsideWindow = false;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = CanonicalJson.MaxDepth });

        // Which top-level object the reader is inside: 1 event, 2 host, 3 user, 4 trainguard, 0 another;
        // at depth 3, whether it is inside trainguard.submitter.
        var parent = 0;
        var inSubmitter = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.PropertyName)
                {
                    continue;
                }

                var depth = reader.CurrentDepth;
                if (depth == 1)
                {
                    parent = reader.ValueTextEquals("event"u8) ? 1 : reader.ValueTextEquals("host"u8) ? 2 : reader.ValueTextEquals("user"u8) ? 3 : reader.ValueTextEquals("trainguard"u8) ? 4 : 0;
                    if (reader.ValueTextEquals("@timestamp"u8))
                    {
                        timestamp = ReadString(ref reader);
                        continue;
                    }

                    if (reader.ValueTextEquals("id"u8))
                    {
                        id = ReadString(ref reader);
                        continue;
                    }

                    if (parent == 0)
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
                else if (depth == 2)
                {
                    inSubmitter = false;
                    if (parent == 1 && reader.ValueTextEquals("action"u8))
                    {
                        action = ReadString(ref reader);
                    }
                    else if (parent == 1 && reader.ValueTextEquals("ingested"u8))
                    {
                        ingested = ReadString(ref reader);
                    }
                    else if (parent is 2 or 3 && reader.ValueTextEquals("name"u8))
                    {
                        var name = ReadString(ref reader);
                        if (parent == 2)
                        {
                            host = name;
                        }
                        else
                        {
                            user = name;
                        }
                    }
                    else if (parent == 4 && reader.ValueTextEquals("submitter"u8))
                    {
                        inSubmitter = true;
                    }
                    else
                    {
                        reader.Read();
                        reader.Skip();
                    }
                }
                else if (depth == 3 && inSubmitter && reader.ValueTextEquals("timestamp_outside_window"u8))
                {
                    reader.Read();
                    outsideWindow = reader.TokenType == JsonTokenType.True;
                }
                else
                {
                    reader.Read();
                    reader.Skip();
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return null;
        }

        if (timestamp is null || action is null || !Rfc3339.TryParse(timestamp, out var time))
        {
            return null;
        }

        if (outsideWindow && ingested is not null && Rfc3339.TryParse(ingested, out var arrived))
        {
            time = arrived;
        }

        return new EventIndexRow(index, Rfc3339.ToUnixMicroseconds(time), host, user, action, id);
    }

    private static string? ReadString(ref Utf8JsonReader reader)
    {
        reader.Read();
        if (reader.TokenType == JsonTokenType.String)
        {
            return reader.GetString();
        }

        reader.Skip();
        return null;
    }
}
