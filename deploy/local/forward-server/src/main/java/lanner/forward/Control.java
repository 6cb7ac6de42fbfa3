package lanner.forward;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;

/**
 * The control port: a small HTTP API on loopback through which tests switch the ack behavior and
 * read counters while the server runs.
 *
 * <pre>
 *   GET  /healthz                         "ok"
 *   GET  /status                          JSON: version, addresses, mode, delay, counters, file
 *   POST /mode?ack=MODE&amp;delay_ms=N        change either or both; answers with /status
 *   POST /reset                           empty the records file, zero the counters
 *   GET  /records                         the records file (JSON lines)
 * </pre>
 */
final class Control implements AutoCloseable {
  private final HttpServer http;
  private final ForwardServer server;
  private final Behavior behavior;
  private final RecordLog log;

  Control(InetSocketAddress addr, ForwardServer server, Behavior behavior, RecordLog log)
      throws IOException {
    this.server = server;
    this.behavior = behavior;
    this.log = log;
    this.http = HttpServer.create(addr, 16);
    http.createContext("/healthz", ex -> reply(ex, 200, "text/plain", "ok\n"));
    http.createContext("/status", ex -> reply(ex, 200, "application/json", status()));
    http.createContext("/mode", this::mode);
    http.createContext("/reset", this::reset);
    http.createContext("/records", this::records);
  }

  InetSocketAddress address() {
    return http.getAddress();
  }

  void start() {
    http.start();
  }

  private void mode(HttpExchange ex) throws IOException {
    Map<String, String> q = query(ex.getRequestURI().getRawQuery());
    try {
      if (q.isEmpty() && ex.getRequestMethod().equals("GET")) {
        reply(ex, 200, "application/json", status());
        return;
      }
      Behavior.Ack ack = q.containsKey("ack") ? Behavior.Ack.parse(q.get("ack")) : null;
      Long delay = null;
      if (q.containsKey("delay_ms")) {
        try {
          delay = Long.parseLong(q.get("delay_ms"));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("delay_ms is not a number: " + q.get("delay_ms"));
        }
      }
      for (String k : q.keySet()) {
        if (!k.equals("ack") && !k.equals("delay_ms")) {
          throw new IllegalArgumentException("unknown parameter \"" + k + "\": want ack or delay_ms");
        }
      }
      if (delay != null) {
        behavior.setDelayMillis(delay);
      }
      if (ack != null) {
        behavior.setAck(ack);
      }
      Main.log("mode: ack=" + behavior.ack().wire() + " delay_ms=" + behavior.delayMillis());
      reply(ex, 200, "application/json", status());
    } catch (IllegalArgumentException e) {
      reply(ex, 400, "text/plain", e.getMessage() + "\n");
    }
  }

  private void reset(HttpExchange ex) throws IOException {
    if (!ex.getRequestMethod().equals("POST")) {
      reply(ex, 405, "text/plain", "POST /reset\n");
      return;
    }
    log.truncate();
    server.connections.set(0);
    server.messages.set(0);
    server.recordsStored.set(0);
    server.recordsRefused.set(0);
    server.acksSent.set(0);
    server.acksWithheld.set(0);
    server.protocolErrors.set(0);
    Main.log("reset: records file emptied, counters zeroed");
    reply(ex, 200, "application/json", status());
  }

  private void records(HttpExchange ex) throws IOException {
    byte[] body;
    synchronized (log) {
      body = Files.readAllBytes(log.path());
    }
    ex.getResponseHeaders().set("Content-Type", "application/x-ndjson");
    ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(body);
    }
  }

  String status() {
    StringBuilder sb = new StringBuilder();
    sb.append("{\"server\":\"lanner-forward-server\",\"version\":");
    Json.string(sb, Main.VERSION);
    sb.append(",\"msgpack_core\":");
    Json.string(sb, Main.MSGPACK_VERSION);
    sb.append(",\"forward\":");
    Json.string(sb, hostPort(server.address()));
    sb.append(",\"control\":");
    Json.string(sb, hostPort(address()));
    sb.append(",\"records_file\":");
    Json.string(sb, log.path().toAbsolutePath().toString());
    sb.append(",\"ack\":\"").append(behavior.ack().wire()).append('"');
    sb.append(",\"delay_ms\":").append(behavior.delayMillis());
    sb.append(",\"connections\":").append(server.connections.get());
    sb.append(",\"messages\":").append(server.messages.get());
    sb.append(",\"records_stored\":").append(server.recordsStored.get());
    sb.append(",\"records_refused\":").append(server.recordsRefused.get());
    sb.append(",\"acks_sent\":").append(server.acksSent.get());
    sb.append(",\"acks_withheld\":").append(server.acksWithheld.get());
    sb.append(",\"protocol_errors\":").append(server.protocolErrors.get());
    sb.append("}\n");
    return sb.toString();
  }

  static String hostPort(InetSocketAddress a) {
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> m = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return m;
    }
    for (String kv : raw.split("&")) {
      if (kv.isEmpty()) {
        continue;
      }
      int i = kv.indexOf('=');
      String k = i < 0 ? kv : kv.substring(0, i);
      String v = i < 0 ? "" : kv.substring(i + 1);
      m.put(
          URLDecoder.decode(k, StandardCharsets.UTF_8), URLDecoder.decode(v, StandardCharsets.UTF_8));
    }
    return m;
  }

  private static void reply(HttpExchange ex, int code, String type, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", type);
    ex.sendResponseHeaders(code, b.length);
    try (OutputStream o = ex.getResponseBody()) {
      o.write(b);
    }
  }

  @Override
  public void close() {
    http.stop(0);
  }
}
