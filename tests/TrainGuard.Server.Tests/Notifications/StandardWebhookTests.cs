using System.Text;
using TrainGuard.Server.Notifications;

namespace TrainGuard.Server.Tests.Notifications;

public sealed class StandardWebhookTests
{
    // The vector of the Standard Webhooks reference libraries (standard-webhooks/standard-webhooks,
    // libraries/csharp/StandardWebhooks.Tests/WebhookTest.cs, verifyWebhookSignWorks; the same in every language).
    private const string SpecSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    private const string SpecId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    private const long SpecTimestamp = 1614265330;
    private const string SpecBody = "{\"test\": 2432232314}";
    private const string SpecSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    // Computed independently with Python's hmac by webhook_vectors.py (beside this file).
    private const string PySecret1 = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    private const string PySecret2 = "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
    private const string PyId = "msg_0192f0c1a2b34c5d8e9fa0b1c2d3e4f5";
    private const long PyTimestamp = 1764064800;
    private const string PyBodyHex = "7b2274797065223a22616c6572742e6f70656e6564222c2274696d657374616d70223a22323032352d31312d32355431303a30303a30302e3030303030305a222c2264617461223a7b22726561736f6e223a22696e7465726e3720c3a9203c623e26227d7d";
    private const string PySignatures = "v1,96MPtMMSRTcayu98MeoIrxetgshCb1+wJ4DQe52LWsU= v1,Y24kBJm32y11jSY/AiqxbbCbKA12TFI27r7iGZf+YS0=";

    private static readonly DateTimeOffset SpecTime = DateTimeOffset.FromUnixTimeSeconds(SpecTimestamp);

    [Fact]
    public void Sign_reproduces_the_reference_libraries_vector()
    {
        Assert.Equal(SpecSignature, StandardWebhook.Sign(SpecId, SpecTimestamp, Encoding.UTF8.GetBytes(SpecBody), [Secret(SpecSecret)]));
    }

    [Fact]
    public void Sign_reproduces_an_independently_computed_two_secret_vector_over_non_ascii_bytes()
    {
        var body = Convert.FromHexString(PyBodyHex);
        Assert.Equal(PySignatures, StandardWebhook.Sign(PyId, PyTimestamp, body, [Secret(PySecret1), Secret(PySecret2)]));
    }

    [Fact]
    public void Verify_accepts_the_reference_vector_with_or_without_the_whsec_prefix()
    {
        var body = Encoding.UTF8.GetBytes(SpecBody);
        Assert.Equal(WebhookVerification.Valid, StandardWebhook.Verify(SpecId, "1614265330", SpecSignature, body, [Secret(SpecSecret)], SpecTime));
        Assert.Equal(WebhookVerification.Valid, StandardWebhook.Verify(SpecId, "1614265330", SpecSignature, body, [Secret(SpecSecret["whsec_".Length..])], SpecTime));
    }

    [Fact]
    public void Verify_during_rotation_accepts_a_receiver_that_knows_only_the_old_or_only_the_new_secret()
    {
        var body = Convert.FromHexString(PyBodyHex);
        var now = DateTimeOffset.FromUnixTimeSeconds(PyTimestamp);
        Assert.Equal(WebhookVerification.Valid, StandardWebhook.Verify(PyId, "1764064800", PySignatures, body, [Secret(PySecret1)], now));
        Assert.Equal(WebhookVerification.Valid, StandardWebhook.Verify(PyId, "1764064800", PySignatures, body, [Secret(PySecret2)], now));
        Assert.Equal(WebhookVerification.SignatureMismatch, StandardWebhook.Verify(PyId, "1764064800", PySignatures, body, [Secret(SpecSecret)], now));
    }

    [Fact]
    public void Verify_skips_unknown_signature_versions_and_finds_the_valid_v1_among_them()
    {
        var header = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg== v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= "
                     + "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " + SpecSignature;
        Assert.Equal(WebhookVerification.Valid, StandardWebhook.Verify(SpecId, "1614265330", header, Encoding.UTF8.GetBytes(SpecBody), [Secret(SpecSecret)], SpecTime));
    }

    [Theory]
    [InlineData("{\"test\": 2432232315}", SpecId, "1614265330", SpecSignature, WebhookVerification.SignatureMismatch)]
    [InlineData(SpecBody, "msg_p5jXN8AQM9LWM0D4loKWxJel", "1614265330", SpecSignature, WebhookVerification.SignatureMismatch)]
    [InlineData(SpecBody, SpecId, "1614265331", SpecSignature, WebhookVerification.SignatureMismatch)]
    [InlineData(SpecBody, SpecId, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd", WebhookVerification.NoSignature)]
    [InlineData(SpecBody, SpecId, "1614265330", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", WebhookVerification.NoSignature)]
    [InlineData(SpecBody, SpecId, "1614265330", "", WebhookVerification.NoSignature)]
    [InlineData(SpecBody, SpecId, "1614265330", null, WebhookVerification.NoSignature)]
    [InlineData(SpecBody, "", "1614265330", SpecSignature, WebhookVerification.BadId)]
    [InlineData(SpecBody, null, "1614265330", SpecSignature, WebhookVerification.BadId)]
    [InlineData(SpecBody, "msg.1614265330", "1614265330", SpecSignature, WebhookVerification.BadId)]
    [InlineData(SpecBody, SpecId, "", SpecSignature, WebhookVerification.BadTimestamp)]
    [InlineData(SpecBody, SpecId, null, SpecSignature, WebhookVerification.BadTimestamp)]
    [InlineData(SpecBody, SpecId, "-1614265330", SpecSignature, WebhookVerification.BadTimestamp)]
    [InlineData(SpecBody, SpecId, "1614265330.5", SpecSignature, WebhookVerification.BadTimestamp)]
    [InlineData(SpecBody, SpecId, "99999999999999999999999", SpecSignature, WebhookVerification.BadTimestamp)]
    public void Verify_refuses_a_changed_body_id_timestamp_or_signature(string body, string? id, string? timestamp, string? signature, WebhookVerification expected)
    {
        Assert.Equal(expected, StandardWebhook.Verify(id, timestamp, signature, Encoding.UTF8.GetBytes(body), [Secret(SpecSecret)], SpecTime));
    }

    [Theory]
    [InlineData(-301, WebhookVerification.TimestampOutOfTolerance)]
    [InlineData(-300, WebhookVerification.Valid)]
    [InlineData(300, WebhookVerification.Valid)]
    [InlineData(301, WebhookVerification.TimestampOutOfTolerance)]
    public void Verify_enforces_the_five_minute_tolerance_both_ways(int offsetSeconds, WebhookVerification expected)
    {
        var now = SpecTime.AddSeconds(-offsetSeconds);
        Assert.Equal(expected, StandardWebhook.Verify(SpecId, "1614265330", SpecSignature, Encoding.UTF8.GetBytes(SpecBody), [Secret(SpecSecret)], now));
    }

    [Fact]
    public void Verify_uses_a_given_tolerance()
    {
        var body = Encoding.UTF8.GetBytes(SpecBody);
        Assert.Equal(WebhookVerification.TimestampOutOfTolerance, StandardWebhook.Verify(SpecId, "1614265330", SpecSignature, body, [Secret(SpecSecret)], SpecTime.AddSeconds(31), TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Sign_refuses_an_id_with_a_full_stop_and_an_empty_secret_list()
    {
        Assert.Throws<ArgumentException>(() => StandardWebhook.Sign("msg.1", SpecTimestamp, [], [Secret(SpecSecret)]));
        Assert.Throws<ArgumentException>(() => StandardWebhook.Sign(SpecId, SpecTimestamp, [], []));
    }

    [Fact]
    public void New_message_ids_are_unique_and_valid()
    {
        var a = StandardWebhook.NewMessageId();
        var b = StandardWebhook.NewMessageId();
        Assert.NotEqual(a, b);
        Assert.Matches("^msg_[0-9a-f]{32}$", a);
        Assert.True(StandardWebhook.IsValidId(a));
    }

    [Theory]
    [InlineData("whsec_", "empty")]
    [InlineData("", "empty")]
    [InlineData("whsec_not base64!", "base64")]
    [InlineData("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY=", "23 bytes")]
    [InlineData("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=", "65 bytes")]
    public void A_malformed_secret_is_refused_with_a_reason_that_does_not_repeat_it(string text, string reason)
    {
        Assert.False(WebhookSecret.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
        if (text.Length > "whsec_".Length)
        {
            Assert.DoesNotContain(text["whsec_".Length..], error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_generated_secret_round_trips_through_its_text_and_never_prints_itself()
    {
        var secret = WebhookSecret.Generate();
        var text = secret.Format();
        Assert.StartsWith("whsec_", text, StringComparison.Ordinal);
        Assert.True(WebhookSecret.TryParse(text, out var parsed, out _));
        Assert.Equal(secret.Key.ToArray(), parsed.Key.ToArray());
        Assert.Equal(WebhookSecret.GeneratedBytes, secret.Key.Length);
        Assert.DoesNotContain(text["whsec_".Length..], secret.ToString(), StringComparison.Ordinal);
    }

    private static WebhookSecret Secret(string text) =>
        WebhookSecret.TryParse(text, out var secret, out var error) ? secret : throw new ArgumentException(error);
}
