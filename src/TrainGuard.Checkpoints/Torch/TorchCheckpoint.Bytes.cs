using System.Buffers;
using TrainGuard.Parsing;

namespace TrainGuard.Checkpoints.Torch;

public sealed partial class TorchCheckpoint
{
    private const int CopyChunk = 1 << 20;
    private const int MaxMaterializedStorage = 1 << 30;

    private (TorchStorage Storage, byte[] Bytes)? _materialized;

    /// <summary>
    /// A read-only stream over a storage's bytes as stored (in <see cref="IsBigEndian"/> order). For a zip
    /// member the size and CRC-32 are checked when the end is reached. Not thread-safe with other reads of this checkpoint.
    /// </summary>
    public Stream OpenStorage(TorchStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (storage.ZipEntry is { } entry && _zip is not null)
        {
            return _zip.OpenEntry(entry);
        }

        if (storage.FileOffset is not { } offset)
        {
            MalformedInputException.Throw(InputErrorKind.Syntax, $"storage '{storage.Key}' has no bytes in this file", null, storage.Member);
            return null!;
        }

        return new WindowStream(_stream, offset, storage.ByteLength);
    }

    /// <summary>
    /// Writes the tensor's elements to <paramref name="destination"/> as a contiguous, little-endian copy
    /// (what safetensors stores; views and strided tensors are gathered, big-endian storages swapped).
    /// Streams: memory stays bounded by a small buffer whatever the tensor's size.
    /// </summary>
    public void CopyTensorTo(TensorRef tensor, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentNullException.ThrowIfNull(destination);
        if (tensor.ElementCount == 0)
        {
            return;
        }

        var es = tensor.Dtype.ElementSize;
        var storage = tensor.Storage;
        var buffer = ArrayPool<byte>.Shared.Rent(CopyChunk);
        try
        {
            // Whole storage, in order: stream the member (a zip member's CRC-32 is checked at its end).
            if (tensor.IsContiguous && tensor.StorageOffset == 0 && tensor.ElementCount == storage.ElementCount)
            {
                using var source = OpenStorage(storage);
                int n;
                while ((n = source.Read(buffer, 0, CopyChunk - (CopyChunk % 16))) > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    WriteOut(buffer.AsSpan(0, n), tensor, destination);
                }

                return;
            }

            var reader = new RandomReader(this, storage);
            if (tensor.IsContiguous)
            {
                var at = tensor.StorageOffset * es;
                var remaining = tensor.ByteSize;
                var chunk = CopyChunk - (CopyChunk % 16);
                while (remaining > 0)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    var n = (int)Math.Min(remaining, chunk);
                    reader.Read(at, buffer.AsSpan(0, n));
                    WriteOut(buffer.AsSpan(0, n), tensor, destination);
                    at += n;
                    remaining -= n;
                }

                return;
            }

            // Strided: walk the index space row by row; runs along the last dimension when its stride is 1.
            var rank = tensor.Shape.Count;
            var index = new long[rank];
            var filled = 0;
            var lastSize = tensor.Shape[rank - 1];
            var lastStride = tensor.Stride[rank - 1];
            var rows = tensor.ElementCount / lastSize;
            for (long row = 0; row < rows; row++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long baseElement = tensor.StorageOffset;
                for (var d = 0; d < rank - 1; d++)
                {
                    baseElement += index[d] * tensor.Stride[d];
                }

                for (long k = 0; k < lastSize;)
                {
                    if (lastStride == 1)
                    {
                        var run = (int)Math.Min(lastSize - k, (CopyChunk - filled) / es);
                        reader.Read((baseElement + k) * es, buffer.AsSpan(filled, run * es));
                        filled += run * es;
                        k += run;
                    }
                    else
                    {
                        reader.Read((baseElement + (k * lastStride)) * es, buffer.AsSpan(filled, es));
                        filled += es;
                        k++;
                    }

                    if (CopyChunk - filled < es)
                    {
                        WriteOut(buffer.AsSpan(0, filled), tensor, destination);
                        filled = 0;
                    }
                }

                for (var d = rank - 2; d >= 0; d--)
                {
                    if (++index[d] < tensor.Shape[d])
                    {
                        break;
                    }

                    index[d] = 0;
                }
            }

            WriteOut(buffer.AsSpan(0, filled), tensor, destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The tensor's contiguous little-endian bytes in memory (refused above <paramref name="maxBytes"/>).</summary>
    public byte[] ReadTensorBytes(TensorRef tensor, int maxBytes = 256 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.ByteSize > maxBytes)
        {
            MalformedInputException.ThrowLimit($"tensor '{tensor.Path}' size ({tensor.ByteSize:N0} bytes)", maxBytes, null, tensor.Storage.Member);
        }

        using var ms = new MemoryStream((int)tensor.ByteSize);
        CopyTensorTo(tensor, ms);
        return ms.ToArray();
    }

    private void WriteOut(Span<byte> bytes, TensorRef tensor, Stream destination)
    {
        if (IsBigEndian)
        {
            var unit = tensor.Dtype.ByteOrderUnit;
            if (unit > 1)
            {
                for (var i = 0; i + unit <= bytes.Length; i += unit)
                {
                    bytes.Slice(i, unit).Reverse();
                }
            }
        }

        destination.Write(bytes);
    }

    /// <summary>Random access into a storage: positioned reads of the file, or an in-memory copy of a deflated member.</summary>
    private sealed class RandomReader(TorchCheckpoint owner, TorchStorage storage)
    {
        private byte[]? _bytes;

        public void Read(long byteOffset, Span<byte> into)
        {
            if (byteOffset < 0 || byteOffset > storage.ByteLength - into.Length)
            {
                MalformedInputException.Throw(InputErrorKind.Corrupt, $"read of {into.Length:N0} bytes at {byteOffset:N0} lies outside storage '{storage.Key}' ({storage.ByteLength:N0} bytes)", byteOffset, storage.Member);
            }

            if (storage.FileOffset is { } fileOffset)
            {
                lock (owner._gate)
                {
                    owner._stream.Position = fileOffset + byteOffset;
                    try
                    {
                        owner._stream.ReadExactly(into);
                    }
                    catch (EndOfStreamException)
                    {
                        MalformedInputException.Throw(InputErrorKind.Truncated, $"truncated: storage '{storage.Key}' runs past the end of the file", fileOffset + byteOffset, storage.Member);
                    }
                }

                return;
            }

            _bytes ??= owner.Materialize(storage);
            _bytes.AsSpan((int)byteOffset, into.Length).CopyTo(into);
        }
    }

    private byte[] Materialize(TorchStorage storage)
    {
        if (_materialized is { } m && ReferenceEquals(m.Storage, storage))
        {
            return m.Bytes;
        }

        if (storage.ByteLength > MaxMaterializedStorage)
        {
            MalformedInputException.ThrowLimit($"compressed storage '{storage.Key}' read for a strided copy ({storage.ByteLength:N0} bytes)", MaxMaterializedStorage, null, storage.Member);
        }

        var bytes = new byte[storage.ByteLength];
        using (var s = OpenStorage(storage))
        {
            try
            {
                s.ReadExactly(bytes);
            }
            catch (EndOfStreamException)
            {
                MalformedInputException.Throw(InputErrorKind.Truncated, $"truncated: storage '{storage.Key}' holds fewer bytes than declared", null, storage.Member);
            }
        }

        _materialized = (storage, bytes);
        return bytes;
    }

    /// <summary>A read-only window [start, start + length) of the checkpoint stream.</summary>
    private sealed class WindowStream(Stream inner, long start, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => true;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = Math.Clamp(value, 0, length);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(buffer.Length, length - _position);
            if (n <= 0)
            {
                return 0;
            }

            inner.Position = start + _position;
            var read = inner.ReadAtLeast(buffer[..n], n, throwOnEndOfStream: false);
            if (read < n)
            {
                throw MalformedInputException.Create(InputErrorKind.Truncated, $"truncated: a storage runs past the end of the file", start + _position + read);
            }

            _position += read;
            return read;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
