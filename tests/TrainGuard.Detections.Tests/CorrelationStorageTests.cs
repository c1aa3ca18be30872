using TrainGuard.Detections.Correlation;

namespace TrainGuard.Detections.Tests;

/// <summary>The compact correlation state: interned group keys and the keyed hash value_count keeps values as.</summary>
public sealed class CorrelationStorageTests
{
    [Fact]
    public void Group_keys_agree_with_a_dictionary_through_adds_removals_reuse_and_compaction()
    {
        var keys = new GroupKeys();
        var model = new Dictionary<string, int>(StringComparer.Ordinal);
        var slots = new HashSet<int>();
        var random = new Random(11);
        for (var step = 0; step < 60_000; step++)
        {
            var i = random.Next(600);
            var key = $"{i}:k" + new string('x', i % 37);
            if (model.TryGetValue(key, out var slot))
            {
                Assert.Equal(slot, keys.Find(key));
                if (random.Next(2) == 0)
                {
                    keys.Remove(slot);
                    model.Remove(key);
                    slots.Remove(slot);
                    Assert.Equal(-1, keys.Find(key));
                }
            }
            else
            {
                Assert.Equal(-1, keys.Find(key));
                slot = keys.Add(key);
                Assert.True(slots.Add(slot), $"slot {slot} given to two live keys");
                model.Add(key, slot);
            }

            Assert.Equal(model.Count, keys.Count);
        }

        foreach (var (key, slot) in model)
        {
            Assert.Equal(slot, keys.Find(key));
            Assert.True(keys.IsLive(slot));
            Assert.Equal(key, keys.Key(slot).ToString());
        }

        Assert.True(keys.HighWater <= 600, $"{keys.HighWater} slots for at most 600 live keys: removed slots are reused");
    }

    [Fact]
    public void An_empty_key_is_a_key()
    {
        var keys = new GroupKeys();
        var slot = keys.Add(string.Empty);
        Assert.Equal(slot, keys.Find(string.Empty));
        Assert.Equal(-1, keys.Find("0:"));
    }

    [Theory]
    [InlineData(0, 0x726fdb47dd0e0e31UL)]
    [InlineData(8, 0x93f5f5799a932462UL)]
    [InlineData(14, 0xf723ca908e7af2eeUL)]
    public void Value_hash_is_siphash_2_4(int bytes, ulong expected)
    {
        // The reference vectors: key 00..0f, message 00 01 02 ... (as UTF-16 code units, little-endian pairs).
        var message = Enumerable.Range(0, bytes / 2).Select(i => (char)((2 * i) | (((2 * i) + 1) << 8))).ToArray();
        var hash = new ValueHash(0x0706050403020100UL, 0x0f0e0d0c0b0a0908UL);
        Assert.Equal(expected, hash.Of(message));
    }

    [Fact]
    public void Value_hashes_tell_values_apart_and_differ_between_keys()
    {
        var hash = ValueHash.Random();
        var seen = new HashSet<ulong>();
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(seen.Add(hash.Of($"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}")));
        }

        Assert.NotEqual(hash.Of("gpu-node-01"), ValueHash.Random().Of("gpu-node-01"));
    }
}
