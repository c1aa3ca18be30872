using System.Runtime.ExceptionServices;

namespace TrainGuard.Integrity.Environments;

/// <summary>
/// <c>Parallel.For</c> for work that used to be a sequential loop: when bodies throw, the exception of the
/// lowest index is rethrown as itself (not wrapped in an <see cref="AggregateException"/>), as the loop would have.
/// </summary>
internal static class OrderedParallel
{
    public static void For(int count, Action<int> body, CancellationToken cancellationToken = default)
    {
        if (count == 0)
        {
            return;
        }

        var errors = new Exception?[count];
        var failed = false;
        Parallel.For(0, count, new ParallelOptions { CancellationToken = cancellationToken }, i =>
        {
            try
            {
                body(i);
            }
            catch (Exception ex)
            {
                errors[i] = ex;
                Volatile.Write(ref failed, true);
            }
        });

        if (Volatile.Read(ref failed))
        {
            ExceptionDispatchInfo.Capture(errors.First(e => e is not null)!).Throw();
        }
    }
}
