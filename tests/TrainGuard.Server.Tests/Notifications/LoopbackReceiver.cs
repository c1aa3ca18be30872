using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Server.Tests.Notifications;

/// <summary>One POST the receiver got: the Standard Webhooks headers and the exact body bytes.</summary>
public sealed record ReceivedWebhook(int Number, string? Id, string? Timestamp, string? Signature, string? ContentType, byte[] Body, DateTimeOffset At)
{
    /// <summary>Checks the signature as a receiver holding <paramref name="secrets"/> would, now.</summary>
    public WebhookVerification Verify(params WebhookSecret[] secrets) =>
        StandardWebhook.Verify(Id, Timestamp, Signature, Body, secrets, DateTimeOffset.UtcNow);

    public string Text => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>
/// A real HTTP receiver on 127.0.0.1 (Kestrel, port 0) that records every POST and answers what <see cref="Respond"/>
/// says for the n-th request: a status, or <see cref="Hang"/> to never answer (until the sender gives up).
/// </summary>
public sealed class LoopbackReceiver : IAsyncDisposable
{
    public const int Hang = -1;

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<ReceivedWebhook> _received = new();
    private readonly SemaphoreSlim _arrived = new(0);
    private int _count;

    private LoopbackReceiver(WebApplication app) => _app = app;

    /// <summary>The status for request number n (1-based); default 200.</summary>
    public Func<int, int> Respond { get; set; } = _ => 200;

    /// <summary>Error bodies sent with non-2xx answers.</summary>
    public string ErrorBody { get; set; } = "receiver says no";

    public string Url { get; private set; } = string.Empty;

    public IReadOnlyList<ReceivedWebhook> Received => [.. _received];

    /// <summary>Answers the statuses in order, then repeats the last.</summary>
    public static Func<int, int> Script(params int[] statuses) => n => statuses[Math.Min(n, statuses.Length) - 1];

    public static async Task<LoopbackReceiver> StartAsync(Func<int, int>? respond = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ApplicationName = "LoopbackReceiver" });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new LoopbackReceiver(app);
        if (respond is not null)
        {
            receiver.Respond = respond;
        }

        app.MapPost("/{**path}", receiver.HandleAsync);
        await app.StartAsync();
        receiver.Url = app.Urls.First().TrimEnd('/') + "/hooks/trainguard";
        return receiver;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived; fails the test after <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<ReceivedWebhook>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        while (_received.Count < count)
        {
            try
            {
                await _arrived.WaitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the receiver got {_received.Count} requests, expected {count}");
            }
        }

        return Received;
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _app.StopAsync(stop.Token);
        }
        catch (OperationCanceledException)
        {
        }

        await _app.DisposeAsync();
        _arrived.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted);
        var number = Interlocked.Increment(ref _count);
        var headers = context.Request.Headers;
        _received.Enqueue(new ReceivedWebhook(
            number,
            headers.TryGetValue(StandardWebhook.IdHeader, out var id) ? id.ToString() : null,
            headers.TryGetValue(StandardWebhook.TimestampHeader, out var ts) ? ts.ToString() : null,
            headers.TryGetValue(StandardWebhook.SignatureHeader, out var sig) ? sig.ToString() : null,
            context.Request.ContentType,
            body.ToArray(),
            DateTimeOffset.UtcNow));
        _arrived.Release();

        var status = Respond(number);
        if (status == Hang)
        {
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }

            return;
        }

        context.Response.StatusCode = status;
        if (status is < 200 or > 299)
        {
            await context.Response.WriteAsync(ErrorBody, context.RequestAborted);
        }
    }
}
