using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using TrainGuard.Server.Events;

namespace TrainGuard.Server.Http;

/// <summary>JSON responses and RFC 9457 problem details, written with <see cref="Utf8JsonWriter"/>.</summary>
internal static class HttpJson
{
    public const string ProblemType = "urn:trainguard:problem:";

    public static async Task WriteAsync(HttpContext context, int status, Action<Utf8JsonWriter> body, string contentType = "application/json")
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            body(writer);
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        context.Response.ContentLength = buffer.WrittenCount;
        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>Writes a problem: <c>type</c> is <c>urn:trainguard:problem:&lt;kind&gt;</c>; <paramref name="problems"/> name events and fields.</summary>
    public static Task ProblemAsync(HttpContext context, int status, string kind, string title, string detail, IReadOnlyList<EventProblem>? problems = null, Action<Utf8JsonWriter>? extra = null) =>
        WriteAsync(
            context,
            status,
            w =>
            {
                w.WriteStartObject();
                w.WriteString("type", ProblemType + kind);
                w.WriteString("title", title);
                w.WriteNumber("status", status);
                w.WriteString("detail", detail);
                if (problems is not null)
                {
                    w.WriteStartArray("errors");
                    foreach (var p in problems)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("index", p.Index);
                        if (p.Field is null)
                        {
                            w.WriteNull("field");
                        }
                        else
                        {
                            w.WriteString("field", p.Field);
                        }

                        w.WriteString("message", p.Message);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                }

                extra?.Invoke(w);
                w.WriteEndObject();
            },
            "application/problem+json");

    public static void WriteProof(Utf8JsonWriter writer, string name, byte[][] proof)
    {
        writer.WriteStartArray(name);
        foreach (var hash in proof)
        {
            writer.WriteBase64StringValue(hash);
        }

        writer.WriteEndArray();
    }
}
