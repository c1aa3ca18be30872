namespace TrainGuard.Runs.Readers;

/// <summary>What a metric (a TensorBoard tag, an MLflow metric file) measures, read from its name.</summary>
internal enum MetricKind
{
    Other,
    Loss,
    LearningRate,
    GradNorm,
}

/// <summary>Maps the names trainers log under (<c>train/loss</c>, <c>learning_rate</c>, <c>train/grad_norm</c>) to the step fields.</summary>
internal static class MetricNames
{
    public static MetricKind Classify(string name)
    {
        var lower = name.ToLowerInvariant();
        var last = lower[(lower.LastIndexOf('/') + 1)..];
        if (lower.Contains("eval", StringComparison.Ordinal) || lower.Contains("val_", StringComparison.Ordinal) || lower.StartsWith("val", StringComparison.Ordinal) || lower.Contains("test", StringComparison.Ordinal))
        {
            return MetricKind.Other;
        }

        return last switch
        {
            "loss" or "train_loss" or "training_loss" => MetricKind.Loss,
            "learning_rate" or "lr" or "learning-rate" => MetricKind.LearningRate,
            "grad_norm" or "gradient_norm" => MetricKind.GradNorm,
            _ => MetricKind.Other,
        };
    }

    /// <summary>
    /// Steps of rank 0 from metric points: one step per step number, the loss, learning rate and gradient norm merged,
    /// and the step time derived from the wall times of consecutive logged steps (when both have one).
    /// </summary>
    public static List<Model.RunEvent> ToSteps(string runId, IEnumerable<(string Name, long Step, double Value, DateTimeOffset? Time, long Position)> points)
    {
        var steps = new SortedDictionary<long, (double? Loss, double? Lr, double? Grad, DateTimeOffset? Time, long Position)>();
        foreach (var (name, step, value, time, position) in points)
        {
            var kind = Classify(name);
            if (kind == MetricKind.Other)
            {
                continue;
            }

            var current = steps.TryGetValue(step, out var found) ? found : (null, null, null, time, position);
            current = kind switch
            {
                MetricKind.Loss => current with { Loss = value },
                MetricKind.LearningRate => current with { Lr = value },
                _ => current with { Grad = value },
            };
            if (current.Time is null || (time is { } t && t < current.Time))
            {
                current.Time = time;
            }

            steps[step] = current;
        }

        var events = new List<Model.RunEvent>(steps.Count);
        (long Step, DateTimeOffset Time)? previous = null;
        foreach (var (step, v) in steps)
        {
            double? timeMs = null;
            if (v.Time is { } time)
            {
                if (previous is { } p && step > p.Step)
                {
                    timeMs = (time - p.Time).TotalMilliseconds / (step - p.Step);
                }

                previous = (step, time);
            }

            events.Add(new Model.RunEvent
            {
                Kind = Model.RunEventKind.Step,
                RunId = runId,
                Timestamp = v.Time,
                Position = v.Position,
                Step = new Model.RunStep { Step = step, Loss = v.Loss, Lr = v.Lr is { } lr ? [lr] : null, GradNorm = v.Grad, TimeMs = timeMs },
            });
        }

        return events;
    }
}
