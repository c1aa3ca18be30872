using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using TrainGuard.Runs.Readers;

namespace TrainGuard.Runs.Tests.Support;

/// <summary>
/// Writes the committed reader fixtures (tests/fixtures/runs): a TensorBoard event file with scalars in all three
/// encodings, an MLflow run folder, a trainer_state.json with bare NaN/Infinity, and broken copies. Deterministic;
/// <see cref="Fixtures.Committed_fixtures_are_what_the_generator_writes"/> holds the committed files to it, and
/// <c>TRAINGUARD_WRITE_FIXTURES=1</c> rewrites them.
/// </summary>
public static class FormatFixtures
{
    public const int Steps = 30;

    /// <summary>The loss at a step (what each fixture logs, so the readers can be checked against it).</summary>
    public static double Loss(int step) => Math.Round(2.0 - (step * 0.05), 4);

    public static double Lr(int step) => 0.001 * (Steps - step) / Steps;

    public static double GradNorm(int step) => 1.0 + (step * 0.01);

    /// <summary>All the fixture files, by path relative to tests/fixtures/runs.</summary>
    public static SortedDictionary<string, byte[]> All()
    {
        var files = new SortedDictionary<string, byte[]>(StringComparer.Ordinal)
        {
            ["tensorboard/events.out.tfevents.1765069200.gpu-node-2.4242.0"] = TensorBoard(),
            ["trainer/trainer_state.json"] = Encoding.UTF8.GetBytes(TrainerState()),
            ["synthetic/clean.jsonl"] = Encoding.UTF8.GetBytes(new SyntheticRun { Steps = 40 }.Text()),
        };
        foreach (var (name, text) in Mlflow())
        {
            files["mlruns/0/4f1c2ab9/metrics/" + name] = Encoding.UTF8.GetBytes(text);
        }

        var bad = TensorBoard();
        bad[TfRecordReader.HeaderSize + 3] ^= 0x40; // a data byte of the first record
        files["bad/data-crc.tfevents/events.out.tfevents.1.bad"] = bad;
        var badLength = TensorBoard();
        var second = FirstRecordSize(badLength);
        badLength[second + 1] ^= 0x01; // the length of the second record
        files["bad/length-crc.tfevents/events.out.tfevents.1.bad"] = badLength;
        files["bad/truncated.tfevents/events.out.tfevents.1.bad"] = TensorBoard()[..^7];
        files["bad/mlruns/0/run/metrics/loss"] = Encoding.UTF8.GetBytes("1765069200000 2.0 0\n1765069201000 two 1\n");
        files["bad/events.jsonl"] = Encoding.UTF8.GetBytes(new SyntheticRun { Steps = 2 }.Lines().First() + "\n{\"event\":{\"action\":\"run-step\"},\"trainguard\":{\"run\":{\"id\":\"j\"},\"step\":{\"step\":\"seven\"}}}\n");
        return files;
    }

    /// <summary>An event file: file_version first, then per step: loss as simple_value, lr as a tensor with float_val, grad_norm as a tensor with tensor_content.</summary>
    public static byte[] TensorBoard()
    {
        var output = new MemoryStream();
        var start = 1765069200.0;
        Write(output, Message(w => { w.Double(1, start); w.Bytes(3, Encoding.UTF8.GetBytes("brain.Event:2")); }));
        for (var step = 0; step < Steps; step++)
        {
            var wall = start + (step * 1.5);
            var s = step;
            Write(output, Message(w =>
            {
                w.Double(1, wall);
                w.Varint(2, (ulong)s);
                w.Bytes(5, Message(summary => summary.Bytes(1, Message(v => { v.Bytes(1, Encoding.UTF8.GetBytes("train/loss")); v.Float(2, (float)Loss(s)); }))));
            }));
            Write(output, Message(w =>
            {
                w.Bytes(5, Message(summary => summary.Bytes(1, Message(v =>
                {
                    v.Bytes(1, Encoding.UTF8.GetBytes("train/learning_rate"));
                    v.Bytes(8, Message(t => { t.Varint(1, 1); t.Bytes(5, Floats((float)Lr(s))); }));
                }))));
                // step and wall time after the summary: a reader must not assume field order.
                w.Varint(2, (ulong)s);
                w.Double(1, wall);
            }));
            Write(output, Message(w =>
            {
                w.Double(1, wall);
                w.Varint(2, (ulong)s);
                w.Bytes(5, Message(summary => summary.Bytes(1, Message(v =>
                {
                    v.Bytes(1, Encoding.UTF8.GetBytes("train/grad_norm"));
                    v.Bytes(8, Message(t => { t.Varint(1, 2); t.Bytes(4, Doubles(GradNorm(s))); }));
                }))));
            }));
        }

        return output.ToArray();
    }

    public static string TrainerState()
    {
        var entries = new List<string>();
        for (var step = 1; step <= Steps; step++)
        {
            var loss = step == 17 ? "NaN" : Loss(step).ToString("R", CultureInfo.InvariantCulture);
            var grad = step == 18 ? "Infinity" : GradNorm(step).ToString("R", CultureInfo.InvariantCulture);
            entries.Add($"    {{\"epoch\": {(step / 10.0).ToString("R", CultureInfo.InvariantCulture)}, \"grad_norm\": {grad}, \"learning_rate\": {Lr(step).ToString("R", CultureInfo.InvariantCulture)}, \"loss\": {loss}, \"step\": {step}}}");
        }

        entries.Add("    {\"epoch\": 3.0, \"eval_loss\": -Infinity, \"step\": 30}");
        return "{\n  \"best_metric\": null,\n  \"epoch\": 3.0,\n  \"global_step\": 30,\n  \"log_history\": [\n" + string.Join(",\n", entries) + "\n  ],\n  \"logging_steps\": 1,\n  \"max_steps\": 30\n}\n";
    }

    public static IEnumerable<(string Name, string Text)> Mlflow()
    {
        var loss = new StringBuilder();
        var lr = new StringBuilder();
        var other = new StringBuilder();
        for (var step = 0; step < Steps; step++)
        {
            var ms = 1765069200000L + (step * 1500);
            loss.Append(CultureInfo.InvariantCulture, $"{ms} {Loss(step):R} {step}\n");
            lr.Append(CultureInfo.InvariantCulture, $"{ms} {Lr(step):R} {step}\n");
            other.Append(CultureInfo.InvariantCulture, $"{ms} 0.5 {step}\n");
        }

        yield return ("train/loss", loss.ToString());
        yield return ("learning_rate", lr.ToString());
        yield return ("eval_accuracy", other.ToString());
    }

    private static int FirstRecordSize(byte[] file) => TfRecordReader.HeaderSize + (int)BinaryPrimitives.ReadUInt64LittleEndian(file) + TfRecordReader.CrcSize;

    private static void Write(Stream output, byte[] data) => output.Write(TfRecordReader.Frame(data));

    private static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        return bytes;
    }

    private static byte[] Doubles(params double[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(i * 8), values[i]);
        }

        return bytes;
    }

    public static byte[] Message(Action<ProtoWriter> build)
    {
        var writer = new ProtoWriter();
        build(writer);
        return writer.ToArray();
    }

    /// <summary>Protobuf wire format, written by hand (the fixtures' only encoder).</summary>
    public sealed class ProtoWriter
    {
        private readonly MemoryStream _output = new();

        public void Varint(int field, ulong value)
        {
            Tag(field, 0);
            Raw(value);
        }

        public void Double(int field, double value)
        {
            Tag(field, 1);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleLittleEndian(b, value);
            _output.Write(b);
        }

        public void Float(int field, float value)
        {
            Tag(field, 5);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleLittleEndian(b, value);
            _output.Write(b);
        }

        public void Bytes(int field, byte[] value)
        {
            Tag(field, 2);
            Raw((ulong)value.Length);
            _output.Write(value);
        }

        public byte[] ToArray() => _output.ToArray();

        private void Tag(int field, int wire) => Raw(((ulong)field << 3) | (uint)wire);

        private void Raw(ulong value)
        {
            while (value >= 0x80)
            {
                _output.WriteByte((byte)(value | 0x80));
                value >>= 7;
            }

            _output.WriteByte((byte)value);
        }
    }
}
