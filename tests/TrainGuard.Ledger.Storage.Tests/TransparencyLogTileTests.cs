using System.Text;
using Microsoft.Data.Sqlite;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tiles;

namespace TrainGuard.Ledger.Storage.Tests;

/// <summary>tlog-tiles resources served from a stored log: entry bundles read from the store, hash tiles from the in-memory tree.</summary>
public sealed class TransparencyLogTileTests
{
    [Fact]
    public async Task Entry_bundles_from_the_store_hold_length_prefixed_entries_matching_the_level_0_tile()
    {
        var directory = Path.Combine(Path.GetTempPath(), "trainguard-tiles-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        try
        {
            await using var store = await SqliteLedgerStore.OpenAsync(Path.Combine(directory, "ledger.db"));
            var entries = Enumerable.Range(0, 300).Select(i => Encoding.UTF8.GetBytes(new string('e', i))).ToList();
            await store.AppendBatchAsync(entries);
            using var signer = NoteSigner.Generate("tiles.test");
            var log = await TransparencyLog.OpenAsync(store, "tiles.test", signer);

            var full = await log.ReadEntryBundleAsync(TileAddress.Entries(0), 300);
            var partial = await log.ReadEntryBundleAsync(TileAddress.Entries(1, 44), 300);

            Assert.Equal(entries[..256], EntryBundle.Parse(full));
            Assert.Equal(entries[256..], EntryBundle.Parse(partial));
            Assert.Equal([0x00, 0x00, 0x00, 0x01, (byte)'e'], full[..5]);
            var hashes = log.ReadHashTile(TileAddress.Hashes(0, 1, 44), 300);
            Assert.Equal(EntryBundle.Parse(partial).SelectMany(e => MerkleHash.HashLeaf(e)), hashes);
            await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => log.ReadEntryBundleAsync(TileAddress.Entries(1, 45), 300));
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
