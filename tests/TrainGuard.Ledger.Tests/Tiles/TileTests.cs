using System.Text;
using TrainGuard.Ledger.Merkle;
using TrainGuard.Ledger.Notes;
using TrainGuard.Ledger.Tests.Support;
using TrainGuard.Ledger.Tiles;
using TrainGuard.Parsing;

namespace TrainGuard.Ledger.Tests.Tiles;

public class TileTests
{
    private static readonly Lazy<MerkleLevels> Tree70000 = new(() =>
    {
        var levels = new MerkleLevels();
        for (var i = 0; i < 70_000; i++)
        {
            levels.AppendEntry(Encoding.ASCII.GetBytes($"entry {i}"));
        }

        return levels;
    });

    [Theory]
    [InlineData(false, 0, 1234067L, 256, "tile/0/x001/x234/067")]
    [InlineData(false, 0, 0L, 256, "tile/0/000")]
    [InlineData(false, 1, 5L, 17, "tile/1/005.p/17")]
    [InlineData(false, 2, 1000L, 256, "tile/2/x001/000")]
    [InlineData(true, 0, 273L, 112, "tile/entries/273.p/112")]
    [InlineData(true, 0, 1000000L, 256, "tile/entries/x001/x000/000")]
    public void Tile_paths_use_the_three_digit_x_prefixed_index_encoding(bool entries, int level, long index, int width, string path)
    {
        var address = new TileAddress(entries, level, index, width);
        Assert.Equal(path, address.ToPath());
        Assert.Equal(address, TilePath.Parse(path));
    }

    [Theory]
    [InlineData("tile/00/000")]
    [InlineData("tile/64/000")]
    [InlineData("tile/-1/000")]
    [InlineData("tile/0/x000/005")]
    [InlineData("tile/0/1234")]
    [InlineData("tile/0/12")]
    [InlineData("tile/0/x001/x234")]
    [InlineData("tile/0/001/234")]
    [InlineData("tile/0/00a")]
    [InlineData("tile/0/000.p/0")]
    [InlineData("tile/0/000.p/256")]
    [InlineData("tile/0/000.p/05")]
    [InlineData("tile/0/000.p/")]
    [InlineData("tile/entries/000.p/1/")]
    [InlineData("tile/0/")]
    [InlineData("tile/0")]
    [InlineData("tiles/0/000")]
    [InlineData("tile/entries/x999/x999/x999/x999/x999/x999/x999/999")]
    public void Non_canonical_or_malformed_tile_paths_are_rejected(string path)
    {
        Assert.Throws<MalformedInputException>(() => TilePath.Parse(path));
    }

    [Fact]
    public void Tile_path_parser_survives_random_and_mutated_input()
    {
        FuzzHarness.Run(TilePath.Fuzz, [
            Encoding.ASCII.GetBytes("tile/0/x001/x234/067.p/5"),
            Encoding.ASCII.GetBytes("tile/entries/x123/456"),
            Encoding.ASCII.GetBytes("tile/7/000"),
        ], 3000, 20240901);
    }

    [Fact]
    public void A_tree_of_70000_leaves_has_the_tiles_the_specification_lists()
    {
        var tiles = TileReader.TilesFor(70_000).ToList();

        Assert.Equal(273, tiles.Count(t => t.Level == 0 && !t.IsPartial));
        Assert.Equal(TileAddress.Hashes(0, 273, 112), Assert.Single(tiles, t => t.Level == 0 && t.IsPartial));
        Assert.Equal(TileAddress.Hashes(1, 0), Assert.Single(tiles, t => t.Level == 1 && !t.IsPartial));
        Assert.Equal(TileAddress.Hashes(1, 1, 17), Assert.Single(tiles, t => t.Level == 1 && t.IsPartial));
        Assert.Equal(TileAddress.Hashes(2, 0, 1), Assert.Single(tiles, t => t.Level == 2));
        Assert.Equal([TileAddress.Hashes(0, 0), TileAddress.Hashes(1, 0, 1)], TileReader.TilesFor(256));
    }

    [Fact]
    public void Hash_tiles_hold_leaf_hashes_at_level_0_and_full_tile_roots_above()
    {
        var levels = Tree70000.Value;
        var tree = new MerkleTree(levels);

        var level0 = TileReader.ReadHashTile(levels, TileAddress.Hashes(0, 3), 70_000);
        Assert.Equal(256 * 32, level0.Length);
        Assert.Equal(MerkleHash.HashLeaf(Encoding.ASCII.GetBytes("entry 768")), level0[..32]);

        var level1 = TileReader.ReadHashTile(levels, TileAddress.Hashes(1, 1, 17), 70_000);
        Assert.Equal(17 * 32, level1.Length);
        for (var i = 0; i < 17; i++)
        {
            var first = (256 + i) * 256L;
            Assert.Equal(tree.SubtreeHash(first, first + 256), level1[(i * 32)..((i + 1) * 32)]);
        }

        // Each level-1 hash is the Merkle root of the level-0 tile below it.
        var below = TileReader.ReadHashTile(levels, TileAddress.Hashes(0, 256 + 16), 70_000);
        var subtree = new MerkleLevels();
        subtree.AppendLeafHashes(below);
        Assert.Equal(new MerkleTree(subtree).RootHash(256), level1[(16 * 32)..]);
    }

    [Fact]
    public void Tiles_beyond_the_tree_size_do_not_exist()
    {
        var levels = Tree70000.Value;
        Assert.False(TileReader.Exists(TileAddress.Hashes(0, 273), 70_000));
        Assert.False(TileReader.Exists(TileAddress.Hashes(0, 273, 113), 70_000));
        Assert.True(TileReader.Exists(TileAddress.Hashes(0, 273, 100), 70_000));
        Assert.False(TileReader.Exists(TileAddress.Hashes(3, 0, 1), 70_000));
        Assert.False(TileReader.Exists(TileAddress.Hashes(63, 0, 1), long.MaxValue));
        Assert.Throws<ArgumentOutOfRangeException>(() => TileReader.ReadHashTile(levels, TileAddress.Hashes(0, 300), 70_000));
        Assert.Throws<ArgumentOutOfRangeException>(() => TileReader.ReadHashTile(levels, TileAddress.Hashes(0, 0), 70_001));
    }

    [Fact]
    public void Truncated_entry_bundles_are_rejected()
    {
        Assert.Throws<MalformedInputException>(() => EntryBundle.Parse([0x00]));
        Assert.Throws<MalformedInputException>(() => EntryBundle.Parse([0x00, 0x03, 0x61, 0x62]));
        Assert.Throws<MalformedInputException>(() => EntryBundle.Parse(new byte[2 * 257]));
        Assert.Equal(256, EntryBundle.Parse(new byte[2 * 256]).Count);
    }

    [Fact]
    public void Entry_bundle_parser_survives_random_and_mutated_input()
    {
        FuzzHarness.Run(EntryBundle.Fuzz, [EntryBundle.Encode([[1, 2, 3], [], Encoding.ASCII.GetBytes("hello")])], 3000, 20240901);
    }
}
