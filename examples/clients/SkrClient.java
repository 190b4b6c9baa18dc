// Envelope encryption through skr-agent, Java 17 standard library only (UnixDomainSocketAddress,
// SocketChannel, javax.crypto). java.net.http cannot dial a Unix socket, so the few lines of
// HTTP/1.1 are written by hand (one request per connection, "Connection: close").
//
// Run:  SKR_AGENT_SOCKET=/path/agent.sock [SKR_AGENT_TOKEN=...] [SKR_KEY=app-kek] \
//         [SKR_READY_TIMEOUT=30] \
//         java SkrClient.java seal FILE TEXT | open FILE | rewrap FILE
// seal: a fresh 32-byte DEK, wrapped under the key by the agent (A256KW); TEXT encrypted locally
//       with AES-256-GCM under the DEK; FILE keeps the wrapped DEK, its kid, iv, ciphertext.
// open: unwraps the DEK by the stored kid (versioned path), decrypts, prints the plaintext.
// rewrap: after a rotation, moves the wrapped DEK to the primary version and stores the new kid.
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

public class SkrClient {
  static final String SOCKET = System.getenv("SKR_AGENT_SOCKET");
  static final String TOKEN = System.getenv("SKR_AGENT_TOKEN");
  static final String KEY = System.getenv().getOrDefault("SKR_KEY", "app-kek");
  static final String ALG = "A256KW"; // RSA-OAEP-256 for an RSA key

  /** A non-retryable answer, or a retryable one after the last attempt. */
  static class AgentException extends Exception {
    final int status;
    final String code;
    AgentException(int status, String code, String message) {
      super("skr-agent: HTTP " + status + " " + code + ": " + message);
      this.status = status;
      this.code = code;
    }
  }

  record Response(int status, String retryAfter, String body) {}

  static Response send(String method, String path, String body) throws IOException {
    byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
    String head = method + " " + path + " HTTP/1.1\r\nHost: skr\r\nX-SKR-Request: 1\r\n"
        + "Connection: close\r\nContent-Type: application/json\r\n"
        + "Content-Length: " + payload.length + "\r\n"
        + (TOKEN == null || TOKEN.isEmpty() ? "" : "Authorization: Bearer " + TOKEN + "\r\n")
        + "\r\n";
    try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(SOCKET))) {
      ch.write(ByteBuffer.wrap(head.getBytes(StandardCharsets.US_ASCII)));
      ch.write(ByteBuffer.wrap(payload));
      String raw = new String(Channels.newInputStream(ch).readAllBytes(), StandardCharsets.UTF_8);
      int split = raw.indexOf("\r\n\r\n");
      if (split < 0) throw new IOException("skr-agent: incomplete HTTP answer");
      Matcher retry = Pattern.compile("(?im)^Retry-After:\\s*(\\d+)")
          .matcher(raw.substring(0, split));
      return new Response(Integer.parseInt(raw.substring(9, 12)),
          retry.find() ? retry.group(1) : null, raw.substring(split + 4));
    }
  }

  /** The first string member NAME of a JSON text (the agent's answers are at most 2 deep). */
  static String field(String json, String name) {
    Matcher m = Pattern.compile("\"" + name + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"")
        .matcher(json);
    return m.find() ? m.group(1) : null;
  }

  /** One request; 429/503 are retried after Retry-After (bounded), other errors throw. */
  static String call(String method, String path, String body) throws Exception {
    for (int attempt = 1; ; attempt++) {
      Response r = send(method, path, body);
      if (r.status() < 300) return r.body();
      if ((r.status() != 429 && r.status() != 503) || attempt == 5) {
        String code = field(r.body(), "code"); // the outer code comes first; innererror follows
        throw new AgentException(r.status(), code == null ? "?" : code,
            code == null ? r.body() : field(r.body(), "message"));
      }
      long ms = r.retryAfter() != null ? Long.parseLong(r.retryAfter()) * 1000 : 200L << attempt;
      Thread.sleep(Math.min(ms, 10_000));
    }
  }

  /** GET /readyz with exponential backoff (0.1 s doubling, at most 2 s) for at most budgetMs. */
  static void waitReady(long budgetMs) throws Exception {
    long deadline = System.currentTimeMillis() + budgetMs, delay = 100;
    String last = "no answer";
    while (System.currentTimeMillis() < deadline) {
      try {
        Response r = send("GET", "/readyz", null);
        if (r.status() == 200) return;
        last = "HTTP " + r.status() + " " + r.body();
      } catch (IOException e) { // socket not there yet, or the agent restarting
        last = e.toString();
      }
      Thread.sleep(delay);
      delay = Math.min(delay * 2, 2000);
    }
    throw new IOException(
        "skr-agent at " + SOCKET + " not ready after " + budgetMs / 1000.0 + " s: " + last);
  }

  static String json(String... kv) {
    StringBuilder sb = new StringBuilder("{");
    for (int i = 0; i < kv.length; i += 2) {
      sb.append(i == 0 ? "\"" : ",\"").append(kv[i]).append("\":\"").append(kv[i + 1]).append('"');
    }
    return sb.append('}').toString();
  }

  static byte[] gcm(int mode, byte[] dek, byte[] iv, byte[] in) throws Exception {
    Cipher c = Cipher.getInstance("AES/GCM/NoPadding");
    c.init(mode, new SecretKeySpec(dek, "AES"), new GCMParameterSpec(128, iv));
    return c.doFinal(in); // encrypt: ciphertext || 16-byte tag
  }

  static String version(String kid) { return kid.substring(kid.lastIndexOf('/') + 1); }

  static final Base64.Encoder B64 = Base64.getUrlEncoder().withoutPadding();
  static final Base64.Decoder UNB64 = Base64.getUrlDecoder();

  static void seal(Path file, String text) throws Exception {
    byte[] dek = new byte[32], iv = new byte[12];
    new SecureRandom().nextBytes(dek);
    new SecureRandom().nextBytes(iv);
    String wrapped = call("POST", "/keys/" + KEY + "/wrapkey",
        json("alg", ALG, "value", B64.encodeToString(dek)));
    byte[] sealed = gcm(Cipher.ENCRYPT_MODE, dek, iv, text.getBytes(StandardCharsets.UTF_8));
    Arrays.fill(dek, (byte) 0);
    String kid = field(wrapped, "kid");
    Files.writeString(file, json("kid", kid, "alg", ALG, "wrapped_dek", field(wrapped, "value"),
        "iv", B64.encodeToString(iv), "ciphertext", B64.encodeToString(sealed)));
    System.out.println("sealed under " + kid);
  }

  // At start-up: the stored kid names the version that wrapped the DEK.
  static void open(Path file) throws Exception {
    String env = Files.readString(file);
    String out = call("POST", "/keys/" + KEY + "/" + version(field(env, "kid")) + "/unwrapkey",
        json("alg", field(env, "alg"), "value", field(env, "wrapped_dek")));
    byte[] dek = UNB64.decode(field(out, "value"));
    byte[] plain = gcm(Cipher.DECRYPT_MODE, dek, UNB64.decode(field(env, "iv")),
        UNB64.decode(field(env, "ciphertext")));
    Arrays.fill(dek, (byte) 0);
    System.out.println("plaintext: " + new String(plain, StandardCharsets.UTF_8));
  }

  static void rewrap(Path file) throws Exception {
    String env = Files.readString(file), kid = field(env, "kid"), alg = field(env, "alg");
    String moved = call("POST", "/keys/" + KEY + "/rewrap",
        json("kid", kid, "alg", alg, "value", field(env, "wrapped_dek")));
    System.out.println("rewrapped: " + kid + " -> " + field(moved, "kid"));
    Files.writeString(file, json("kid", field(moved, "kid"), "alg", alg,
        "wrapped_dek", field(moved, "value"), "iv", field(env, "iv"),
        "ciphertext", field(env, "ciphertext")));
  }

  public static void main(String[] args) throws Exception {
    if (SOCKET == null || args.length < 2 || !(args[0].equals("seal") && args.length == 3
        || args[0].matches("open|rewrap") && args.length == 2)) {
      System.err.println("usage: SKR_AGENT_SOCKET=PATH java SkrClient.java "
          + "seal FILE TEXT | open FILE | rewrap FILE");
      System.exit(2);
    }
    Path file = Path.of(args[1]);
    try {
      waitReady((long) (1000 * Double.parseDouble(
          System.getenv().getOrDefault("SKR_READY_TIMEOUT", "30"))));
      switch (args[0]) {
        case "seal" -> seal(file, args[2]);
        case "open" -> open(file);
        default -> rewrap(file);
      }
    } catch (AgentException | IOException | GeneralSecurityException e) {
      System.err.println(e.getMessage());
      System.exit(1);
    }
  }
}
