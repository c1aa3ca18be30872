using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;

namespace TrainGuard.Benchmarks;

/// <summary>
/// <c>ingest-load</c>: the shipped server measured from outside its process, as a site sees it (issues #12 and #17).
/// Starts <c>trainguard server run</c> (the built CLI, its own process, SQLite in a fresh data directory or the
/// PostgreSQL database given), makes one agent token per simulated agent with <c>trainguard server token create</c>,
/// and lets N agents post batches of realistic events: as fast as each batch is acknowledged, or at a fixed total rate
/// (<c>--rate</c>). A probe posts one alert-raising event a second and polls <c>GET /api/v1/alerts</c> until its alert
/// is listed: the alert latency a responder sees. What the agents post and what the probe raises is the workload
/// (<see cref="IIngestWorkload"/>): benign agent events and a uid-0 account (TG-DET-006), or the training client's
/// per-rank steps of one job and a flipped step (TG-DET-018). Prints acknowledged events/s, request latency, alert
/// latency and the server's CPU time per event; the server is stopped at the end.
/// </summary>
internal static class IngestLoad
{
    private const string Usage = """
        usage: ingest-load --cli PATH [--workload agent-events|run-steps] [--agents N] [--batch N] [--seconds S]
                           [--warmup S] [--rate EVENTS_PER_S] [--db SPEC [--servers N]] [--keep-data] [--json FILE]
          --cli PATH     the built trainguard executable (src/TrainGuard.Cli/bin/Release/net10.0/trainguard)
          --workload W   agent-events (default): benign agent events, the probe a uid-0 account (TG-DET-006);
                         run-steps: one training job, each agent posting one run-step per rank of its batch each
                         period (world size = agents x batch, 8 ranks a node), the probe a fresh run whose first
                         step goes against the gradient (TG-DET-018). 4,096 ranks at one step a second:
                         --workload run-steps --agents 512 --batch 8 --rate 4096
          --agents N     simulated agents (default 100), one token per node they post as
          --batch N      events per POST (default 500, the agent's default; run-steps: 8, the ranks of one node)
          --seconds S    measured period (default 30); --warmup S before it (default 5)
          --rate R       total events/s the agents offer together (default: each posts again once acknowledged)
          --db SPEC      the server's --db (default: SQLite in a fresh data directory)
          --servers N    with a PostgreSQL --db: N server processes on it sharing one log signing key, the agents
                         spread round robin over them (default 1)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Usage);
            return 0;
        }

        LoadOptions options;
        try
        {
            options = LoadOptions.Parse(args);
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine($"ingest-load: {ex.Message}");
            Console.Error.WriteLine(Usage);
            return 2;
        }

        var dataDir = Path.Combine(Path.GetTempPath(), "trainguard-ingest-load-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataDir);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var port = FreePort();
        var servers = new List<Process>();
        try
        {
            var workload = IngestWorkloads.Create(options.Workload, options.Agents, options.Batch);
            var hosts = Enumerable.Range(0, options.Agents).Select(workload.Host).Distinct().ToList();
            Console.WriteLine($"// {workload.Name}: creating {hosts.Count} agent tokens and a reader token in {dataDir}");
            // The reader's token first creates the database; then one CLI process per core (a process start is most of the work).
            var reader = await CliAsync(options, dataDir, "server", "token", "create", "--role", "reader");
            var tokens = new ConcurrentDictionary<string, string>();
            await Parallel.ForEachAsync(hosts, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, async (host, _) =>
                tokens[host] = await CliAsync(options, dataDir, "server", "token", "create", "--role", "agent", "--host", host));
            // One after another: the first creates the log signing key in the data directory, the others read it.
            var addresses = new List<Uri>();
            for (var i = 0; i < options.Servers; i++)
            {
                var serverPort = i == 0 ? port : FreePort();
                var server = StartServer(options, dataDir, serverPort);
                servers.Add(server);
                await WaitListeningAsync(server);
                addresses.Add(new Uri($"http://127.0.0.1:{serverPort}/"));
            }

            var result = await MeasureAsync(options, workload, addresses, tokens, reader, servers);
            result.Print();
            if (options.JsonFile is { } json)
            {
                await File.WriteAllTextAsync(json, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
            }

            return 0;
        }
        finally
        {
            foreach (var server in servers)
            {
                if (!server.HasExited)
                {
                    server.Kill(entireProcessTree: true);
                    await server.WaitForExitAsync();
                }

                server.Dispose();
            }

            if (!options.KeepData)
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    private static async Task<LoadResult> MeasureAsync(LoadOptions options, IIngestWorkload workload, List<Uri> addresses, ConcurrentDictionary<string, string> tokens, string reader, List<Process> servers)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Agents + 4, PooledConnectionLifetime = Timeout.InfiniteTimeSpan };
        var clients = addresses.Select(a => new HttpClient(handler, disposeHandler: false) { BaseAddress = a, Timeout = TimeSpan.FromSeconds(120) }).ToList();
        var http = clients[0];
        using var stop = new CancellationTokenSource();
        var stats = new LoadStats();
        var started = Stopwatch.GetTimestamp();
        var agents = Enumerable.Range(0, options.Agents)
            .Select(i => Task.Run(() => AgentAsync(clients[i % clients.Count], tokens[workload.Host(i)], workload.Batches(i), options, stats, started, stop.Token)))
            .ToArray();
        var probeLatencies = new List<double>();
        var probeTask = Task.Run(() => ProbeAsync(http, tokens[workload.Host(0)], reader, workload, probeLatencies, stats, stop.Token));

        await Task.Delay(TimeSpan.FromSeconds(options.WarmupSeconds));
        using var self = Process.GetCurrentProcess();
        var (events0, cpu0, ownCpu0, at0) = (Interlocked.Read(ref stats.Events), servers.Sum(CpuSeconds), CpuSeconds(self), Stopwatch.GetTimestamp());
        stats.Measuring = true;
        // The deriver's lag is read once a second; every few seconds a progress line.
        var reportEvery = Math.Max(5, options.Seconds / 6);
        var lags = new List<long>();
        for (var elapsed = 1; elapsed <= options.Seconds; elapsed++)
        {
            var due = TimeSpan.FromSeconds(elapsed) - Stopwatch.GetElapsedTime(at0);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            var lag = await DeriverLagAsync(http, reader);
            if (lag is { } entries)
            {
                lags.Add(entries);
            }

            if (elapsed % reportEvery == 0 || elapsed == options.Seconds)
            {
                var seconds = Stopwatch.GetElapsedTime(at0).TotalSeconds;
                Console.WriteLine($"// {seconds,5:N0} s: {(Interlocked.Read(ref stats.Events) - events0) / seconds,8:N0} events/s acknowledged, {stats.Failures} failed requests, {probeLatencies.Count} alert probes, deriver {Entries(lag)} entries behind");
            }
        }

        var (events1, cpu1, ownCpu1, at1) = (Interlocked.Read(ref stats.Events), servers.Sum(CpuSeconds), CpuSeconds(self), Stopwatch.GetTimestamp());
        stats.Measuring = false;
        await stop.CancelAsync();
        await Task.WhenAll(agents.Append(probeTask).Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
        clients.ForEach(c => c.Dispose());

        var wall = Stopwatch.GetElapsedTime(at0, at1).TotalSeconds;
        var appended = events1 - events0;
        double[] requests;
        lock (stats.RequestMillis)
        {
            requests = [.. stats.RequestMillis.Order()];
        }

        double[] probes, afterAck;
        lock (probeLatencies)
        {
            probes = [.. probeLatencies.Order()];
            afterAck = [.. stats.AfterAckMillis.Order()];
        }

        return new LoadResult(
            options.Workload, options.Servers, options.Agents, options.Batch, options.Rate, wall, appended / wall, Interlocked.Read(ref stats.Failures),
            Percentile(requests, 0.5), Percentile(requests, 0.99),
            probes.Length, stats.ProbesMissed, Percentile(probes, 0.5), Percentile(probes, 0.95), probes.Length == 0 ? double.NaN : probes[^1],
            Percentile(afterAck, 0.5), Percentile(afterAck, 0.95), afterAck.Length == 0 ? double.NaN : afterAck[^1],
            lags.Count == 0 ? null : lags.Max(), lags.Count == 0 ? null : lags[^1],
            appended == 0 ? double.NaN : (cpu1 - cpu0) / appended * 1e6, (cpu1 - cpu0) / wall, (ownCpu1 - ownCpu0) / wall);
    }

    /// <summary>One agent: a batch, then the next as soon as it is acknowledged, or on its schedule under <c>--rate</c>.</summary>
    private static async Task AgentAsync(HttpClient http, string token, Func<byte[]> batches, LoadOptions options, LoadStats stats, long started, CancellationToken cancellationToken)
    {
        var period = options.Rate is { } rate ? TimeSpan.FromSeconds((double)options.Agents * options.Batch / rate) : TimeSpan.Zero;

        // Spread the agents' first posts over one period, as real agents are not synchronised.
        var offset = period * Random.Shared.NextDouble();
        for (var n = 0L; !cancellationToken.IsCancellationRequested; n++)
        {
            if (period > TimeSpan.Zero)
            {
                var due = offset + (period * n) - Stopwatch.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }

            var body = batches();
            var at = Stopwatch.GetTimestamp();
            try
            {
                // A request in flight finishes at the stop: cut off mid-body, the server would log it as refused.
                using var request = Post(token, body);
                using var response = await http.SendAsync(request, CancellationToken.None);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref stats.Failures);
                    await Task.Delay(100, cancellationToken);
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref stats.Failures);
                continue;
            }

            Interlocked.Add(ref stats.Events, options.Batch);
            if (stats.Measuring)
            {
                lock (stats.RequestMillis)
                {
                    stats.RequestMillis.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                }
            }
        }
    }

    /// <summary>Once a second: the workload's alert-raising events, then <c>GET /api/v1/alerts</c> until their alert is listed.</summary>
    private static async Task ProbeAsync(HttpClient http, string token, string reader, IIngestWorkload workload, List<double> latencies, LoadStats stats, CancellationToken cancellationToken)
    {
        var n = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(1000, cancellationToken);
                var measuring = stats.Measuring;
                var (body, alertsQuery) = workload.Probe(++n);
                var at = Stopwatch.GetTimestamp();
                using (var request = Post(token, body))
                using (var response = await http.SendAsync(request, cancellationToken))
                {
                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        continue;
                    }
                }

                var acknowledged = Stopwatch.GetTimestamp();

                while (true)
                {
                    if (Stopwatch.GetElapsedTime(at) > TimeSpan.FromSeconds(60))
                    {
                        Interlocked.Increment(ref stats.ProbesMissed);
                        break;
                    }

                    using var query = new HttpRequestMessage(HttpMethod.Get, "api/v1/alerts?" + alertsQuery);
                    query.Headers.Authorization = new AuthenticationHeaderValue("Bearer", reader);
                    using var answer = await http.SendAsync(query, cancellationToken);
                    if (answer.IsSuccessStatusCode)
                    {
                        using var document = JsonDocument.Parse(await answer.Content.ReadAsByteArrayAsync(cancellationToken));
                        if (document.RootElement.GetProperty("alerts").GetArrayLength() > 0)
                        {
                            if (measuring && stats.Measuring)
                            {
                                lock (latencies)
                                {
                                    latencies.Add(Stopwatch.GetElapsedTime(at).TotalMilliseconds);
                                    stats.AfterAckMillis.Add(Stopwatch.GetElapsedTime(acknowledged).TotalMilliseconds);
                                }
                            }

                            break;
                        }
                    }

                    await Task.Delay(10, cancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (HttpRequestException)
            {
            }
        }
    }

    /// <summary>The server's <c>trainguard_alert_deriver_lag_entries</c> metric (null when it cannot be read).</summary>
    private static async Task<long?> DeriverLagAsync(HttpClient http, string reader)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", reader);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("trainguard_alert_deriver_lag_entries ", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line.AsSpan(line.IndexOf(' ') + 1), CultureInfo.InvariantCulture);
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    private static string Entries(long? lag) => lag?.ToString("N0", CultureInfo.InvariantCulture) ?? "?";

    private static HttpRequestMessage Post(string token, byte[] body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/v1/events") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    /// <summary>User + system CPU seconds of the process, from /proc.</summary>
    private static double CpuSeconds(Process process)
    {
        process.Refresh();
        return process.TotalProcessorTime.TotalSeconds;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static Process StartServer(LoadOptions options, string dataDir, int port)
    {
        var start = StartInfo(options, dataDir, ["server", "run", "--urls", $"http://127.0.0.1:{port}", "--log-level", "warning", "--rate-limit", "0"]);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.Cli}");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                Console.Error.WriteLine("server: " + line);
            }
        };
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitListeningAsync(Process server)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (await server.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith("trainguard server listening on", StringComparison.Ordinal))
            {
                Console.WriteLine("// " + line);
                _ = server.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return;
            }
        }

        throw new InvalidOperationException($"the server exited (code {server.ExitCode}) before it listened");
    }

    private static async Task<string> CliAsync(LoadOptions options, string dataDir, params string[] args)
    {
        var start = StartInfo(options, dataDir, args);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {options.Cli}");
        var output = await process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return process.ExitCode == 0
            ? output.Trim()
            : throw new InvalidOperationException($"trainguard {string.Join(' ', args)} failed ({process.ExitCode}): {error.Trim()}");
    }

    /// <summary>The CLI with <paramref name="args"/>, then the data directory and the store every command of a run shares.</summary>
    private static ProcessStartInfo StartInfo(LoadOptions options, string dataDir, string[] args)
    {
        var start = new ProcessStartInfo(options.Cli) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args.Concat(["--data-dir", dataDir]).Concat(options.Db is { } db ? ["--db", db] : Array.Empty<string>()))
        {
            start.ArgumentList.Add(arg);
        }

        return start;
    }

    private sealed class LoadStats
    {
        public long Events;
        public long Failures;
        public long ProbesMissed;
        public volatile bool Measuring;
        public readonly List<double> RequestMillis = [];
        public readonly List<double> AfterAckMillis = [];
    }

    private sealed record LoadOptions(string Cli, string Workload, int Servers, int Agents, int Batch, int Seconds, int WarmupSeconds, double? Rate, string? Db, bool KeepData, string? JsonFile)
    {
        public static LoadOptions Parse(string[] args)
        {
            string? cli = null, db = null, json = null;
            var workload = IngestWorkloads.AgentEventsName;
            int agents = 100, seconds = 30, warmup = 5, servers = 1;
            int? batch = null;
            double? rate = null;
            var keep = false;
            for (var i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int Count(int min) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min
                    ? n : throw new ArgumentException($"{args[i - 1]} takes a whole number of at least {min}, not '{args[i]}'");
                switch (args[i])
                {
                    case "--cli": cli = Value(); break;
                    case "--workload": workload = Value() is IngestWorkloads.AgentEventsName or IngestWorkloads.RunStepsName ? args[i] : throw new ArgumentException($"--workload takes {IngestWorkloads.AgentEventsName} or {IngestWorkloads.RunStepsName}, not '{args[i]}'"); break;
                    case "--agents": agents = Count(1); break;
                    case "--servers": servers = Count(1); break;
                    case "--batch": batch = Count(1); break;
                    case "--seconds": seconds = Count(1); break;
                    case "--warmup": warmup = Count(0); break;
                    case "--rate": rate = Count(1); break;
                    case "--db": db = Value(); break;
                    case "--json": json = Value(); break;
                    case "--keep-data": keep = true; break;
                    default: throw new ArgumentException($"unknown option '{args[i]}'");
                }
            }

            if (cli is null || !File.Exists(cli))
            {
                throw new ArgumentException(cli is null ? "--cli PATH is required" : $"--cli: no file at {cli} (build it: dotnet build -c Release src/TrainGuard.Cli)");
            }

            if (servers > 1 && (db is null || db.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase)))
            {
                throw new ArgumentException("--servers N needs a PostgreSQL --db (one SQLite file has one server)");
            }

            return new LoadOptions(Path.GetFullPath(cli), workload, servers, agents, batch ?? IngestWorkloads.DefaultBatch(workload), seconds, warmup, rate, db, keep, json);
        }
    }

    private sealed record LoadResult(
        string Workload, int Servers, int Agents, int Batch, double? OfferedRate, double Seconds, double EventsPerSecond, long FailedRequests,
        double RequestP50Ms, double RequestP99Ms,
        int AlertProbes, long AlertProbesMissed, double AlertP50Ms, double AlertP95Ms, double AlertMaxMs,
        double AfterAckP50Ms, double AfterAckP95Ms, double AfterAckMaxMs,
        long? DeriverLagMaxEntries, long? DeriverLagEndEntries,
        double ServerCpuMicrosPerEvent, double ServerCpuCores, double LoadGeneratorCpuCores)
    {
        public void Print()
        {
            Console.WriteLine($"{Servers} server(s), {Workload}: agents {Agents} x {Batch}-event batches{(OfferedRate is { } r ? $", offered {r:N0} events/s" : ", closed loop")}, {Seconds:N0} s measured");
            Console.WriteLine($"acknowledged: {EventsPerSecond:N0} events/s ({FailedRequests} failed requests); request p50 {RequestP50Ms:N0} ms, p99 {RequestP99Ms:N0} ms");
            Console.WriteLine($"alert latency, acknowledged POST to listed alert: p50 {AfterAckP50Ms:N0} ms, p95 {AfterAckP95Ms:N0} ms, max {AfterAckMaxMs:N0} ms over {AlertProbes} probes ({AlertProbesMissed} not listed within 60 s)");
            Console.WriteLine($"alert latency, POST sent to listed alert: p50 {AlertP50Ms:N0} ms, p95 {AlertP95Ms:N0} ms, max {AlertMaxMs:N0} ms");
            Console.WriteLine($"deriver lag, read each second: max {Entries(DeriverLagMaxEntries)} entries, {Entries(DeriverLagEndEntries)} at the end");
            Console.WriteLine($"server CPU (all servers): {ServerCpuMicrosPerEvent:N1} µs per event, {ServerCpuCores:N2} cores; this load generator {LoadGeneratorCpuCores:N2} cores");
        }
    }
}
