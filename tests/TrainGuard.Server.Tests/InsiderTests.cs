using System.Net;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Server.Tests.Support;

namespace TrainGuard.Server.Tests;

/// <summary>
/// What a colleague with an ordinary account and token tried against a running server (issue 11), each attack a test
/// that now fails to work; docs/server.md, "What an insider with an account can and cannot do", follows these tests.
/// </summary>
public sealed class InsiderTests
{
    [Fact]
    public async Task Reading_entry_tiles_without_a_token_is_refused()
    {
        await using var h = await ServerHarness.StartAsync(Backends.Sqlite);
        await h.PostEventsOkAsync(Enumerable.Range(0, 3).Select(i => ServerHarness.Event(i)));
        var entries = TileAddress.Entries(0, 3).ToPath();

        // Events (user, host, command lines) and metrics: a reader's (or an admin's), nobody else's.
        foreach (var path in new[] { entries, "metrics", "api/v1/events", $"api/v1/events/{Guid.NewGuid()}" })
        {
            using var anonymous = await h.GetAsync(path, null);
            Assert.True(anonymous.StatusCode == HttpStatusCode.Unauthorized, $"{path} without a token: {(int)anonymous.StatusCode}");
            foreach (var (role, token) in new[] { ("agent", h.AgentToken) })
            {
                using var refused = await h.GetAsync(path, token);
                Assert.True(refused.StatusCode == HttpStatusCode.Forbidden, $"{path} with a {role} token: {(int)refused.StatusCode}");
            }
        }

        // A path spelled so the router might take it for a hash tile does not serve events either.
        using (var disguised = await h.GetAsync("tile/entries%2F000.p%2F3", null))
        {
            Assert.True(disguised.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.Unauthorized, $"{(int)disguised.StatusCode}");
        }

        using (var reader = await h.GetAsync(entries, h.ReaderToken))
        {
            Assert.Equal(HttpStatusCode.OK, reader.StatusCode);
            Assert.Equal(3, EntryBundle.Parse(await reader.Content.ReadAsByteArrayAsync()).Count);
        }

        using (var admin = await h.GetAsync("metrics", h.AdminToken))
        {
            Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        }

        // The witness view stays public: tree heads, hash tiles, consistency proofs, the log's identity.
        foreach (var path in new[] { "checkpoint", TileAddress.Hashes(0, 0, 3).ToPath(), "api/v1/log", "api/v1/proof/consistency?from=1&to=3", "healthz", "readyz" })
        {
            using var open = await h.GetAsync(path, null);
            Assert.True(open.StatusCode == HttpStatusCode.OK, $"{path} without a token: {(int)open.StatusCode}");
        }
    }
}
