package lanner.forward;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPInputStream;
import org.msgpack.core.MessageInsufficientBufferException;
import org.msgpack.core.MessagePack;
import org.msgpack.core.MessagePacker;
import org.msgpack.core.MessageUnpacker;
import org.msgpack.value.ArrayValue;
import org.msgpack.value.ExtensionValue;
import org.msgpack.value.MapValue;
import org.msgpack.value.Value;
import org.msgpack.value.ValueFactory;

/**
 * A Fluentd Forward protocol v1 server over TCP: Message, Forward, PackedForward and
 * CompressedPackedForward modes, EventTime (ext type 0) or integer or float times, and the
 * "chunk" option answered with {"ack": chunk} once the records are stored. Not implemented:
 * the handshake phase (shared key, users), TLS and UDP heartbeats; a client configured for those
 * will not talk to it.
 *
 * <p>One thread per connection, blocking reads: the server exists for tests and benchmarks on one
 * machine, and a slow or withheld ack on one connection must not hold back another.
 */
final class ForwardServer implements AutoCloseable {
  /** Messages larger than this (PackedForward payload after gunzip) are refused. */
  static final int MAX_PACKED_BYTES = 64 << 20;

  final AtomicLong connections = new AtomicLong();
  final AtomicLong messages = new AtomicLong();
  final AtomicLong recordsStored = new AtomicLong();
  final AtomicLong recordsRefused = new AtomicLong();
  final AtomicLong acksSent = new AtomicLong();
  final AtomicLong acksWithheld = new AtomicLong();
  final AtomicLong protocolErrors = new AtomicLong();

  private final ServerSocket listener;
  private final Behavior behavior;
  private final RecordLog log;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closing;

  ForwardServer(InetSocketAddress addr, Behavior behavior, RecordLog log) throws IOException {
    this.behavior = behavior;
    this.log = log;
    this.listener = new ServerSocket();
    listener.setReuseAddress(true);
    listener.bind(addr, 512);
  }

  InetSocketAddress address() {
    return (InetSocketAddress) listener.getLocalSocketAddress();
  }

  /** Accepts connections until close; each gets its own thread. */
  void serve() {
    Thread t =
        new Thread(
            () -> {
              while (!closing) {
                try {
                  Socket s = listener.accept();
                  s.setTcpNoDelay(true);
                  connections.incrementAndGet();
                  open.add(s);
                  Thread h = new Thread(() -> handle(s), "forward-" + s.getPort());
                  h.setDaemon(true);
                  h.start();
                } catch (IOException e) {
                  if (!closing) {
                    Main.log("accept failed: " + e);
                  }
                }
              }
            },
            "forward-accept");
    t.setDaemon(true);
    t.start();
  }

  private void handle(Socket s) {
    String peer = s.getInetAddress().getHostAddress() + ":" + s.getPort();
    try (s;
        InputStream in = new BufferedInputStream(s.getInputStream(), 1 << 16);
        MessageUnpacker unpacker = MessagePack.newDefaultUnpacker(in)) {
      OutputStream out = new BufferedOutputStream(s.getOutputStream());
      while (unpacker.hasNext()) {
        Value msg = unpacker.unpackValue();
        messages.incrementAndGet();
        if (!onMessage(msg, out)) {
          return;
        }
      }
    } catch (MessageInsufficientBufferException e) {
      Main.log(peer + ": connection closed in the middle of a message");
    } catch (ProtocolException e) {
      protocolErrors.incrementAndGet();
      Main.log(peer + ": protocol error, closing: " + e.getMessage());
    } catch (SocketException e) {
      if (!closing) {
        Main.log(peer + ": " + e.getMessage());
      }
    } catch (IOException | RuntimeException e) {
      if (!closing) {
        protocolErrors.incrementAndGet();
        Main.log(peer + ": error, closing: " + e);
      }
    } finally {
      open.remove(s);
    }
  }

  /** Handles one decoded message; false means close the connection. */
  private boolean onMessage(Value msg, OutputStream out) throws IOException {
    Decoded d = decode(msg);
    Behavior.Ack mode = behavior.ack();
    if (mode == Behavior.Ack.CLOSE) {
      recordsRefused.addAndGet(d.lines.size());
      return false;
    }
    if (mode == Behavior.Ack.WITHHOLD) {
      recordsRefused.addAndGet(d.lines.size());
      if (d.chunk != null) {
        acksWithheld.incrementAndGet();
      }
      return true;
    }
    long delay = behavior.delayMillis();
    if (delay > 0) {
      try {
        Thread.sleep(delay);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    log.write(d.lines);
    recordsStored.addAndGet(d.lines.size());
    if (d.chunk == null) {
      return true;
    }
    if (mode == Behavior.Ack.STORE_NOACK) {
      acksWithheld.incrementAndGet();
      return true;
    }
    MessagePacker p = MessagePack.newDefaultPacker(out);
    p.packMapHeader(1);
    p.packString("ack");
    p.packString(d.chunk);
    p.flush();
    acksSent.incrementAndGet();
    return true;
  }

  static final class Decoded {
    final List<String> lines = new ArrayList<>();
    String chunk;
  }

  static final class ProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    ProtocolException(String msg) {
      super(msg);
    }
  }

  /** Decodes one Forward protocol message into JSON lines, one per record. */
  static Decoded decode(Value msg) throws IOException {
    if (!msg.isArrayValue()) {
      throw new ProtocolException("message is a " + msg.getValueType() + ", want an array");
    }
    ArrayValue a = msg.asArrayValue();
    if (a.size() < 2 || a.size() > 4) {
      throw new ProtocolException("message has " + a.size() + " elements, want 2 to 4");
    }
    if (!a.get(0).isStringValue()) {
      throw new ProtocolException("tag is a " + a.get(0).getValueType() + ", want a string");
    }
    String tag = a.get(0).asStringValue().asString();
    Value second = a.get(1);
    Decoded d = new Decoded();
    Value option;
    if (second.isArrayValue()) {
      option = a.size() > 2 ? a.get(2) : ValueFactory.newNil();
      for (Value e : second.asArrayValue()) {
        entry(d, tag, e, "forward");
      }
    } else if (second.isRawValue()) {
      option = a.size() > 2 ? a.get(2) : ValueFactory.newNil();
      byte[] packed = second.asRawValue().asByteArray();
      String kind = "packed";
      String compressed = optionString(option, "compressed");
      if (compressed != null) {
        if (!compressed.equals("gzip")) {
          throw new ProtocolException("unsupported compression \"" + compressed + "\"");
        }
        packed = gunzip(packed);
        kind = "compressed";
      }
      try (MessageUnpacker u = MessagePack.newDefaultUnpacker(packed)) {
        while (u.hasNext()) {
          entry(d, tag, u.unpackValue(), kind);
        }
      }
    } else {
      if (a.size() < 3) {
        throw new ProtocolException("message mode needs [tag, time, record], got 2 elements");
      }
      option = a.size() > 3 ? a.get(3) : ValueFactory.newNil();
      line(d, tag, a.get(1), a.get(2), "message");
    }
    if (!option.isNilValue() && !option.isMapValue()) {
      throw new ProtocolException("option is a " + option.getValueType() + ", want a map");
    }
    d.chunk = optionString(option, "chunk");
    return d;
  }

  private static void entry(Decoded d, String tag, Value e, String kind) throws ProtocolException {
    if (!e.isArrayValue() || e.asArrayValue().size() != 2) {
      throw new ProtocolException("entry is not [time, record]");
    }
    line(d, tag, e.asArrayValue().get(0), e.asArrayValue().get(1), kind);
  }

  private static void line(Decoded d, String tag, Value time, Value record, String kind)
      throws ProtocolException {
    long sec;
    long nsec;
    String timeType;
    if (time.isIntegerValue()) {
      sec = time.asIntegerValue().toLong();
      nsec = 0;
      timeType = "integer";
    } else if (time.isFloatValue()) {
      double t = time.asFloatValue().toDouble();
      sec = (long) Math.floor(t);
      nsec = Math.round((t - sec) * 1e9);
      if (nsec >= 1_000_000_000L) {
        sec++;
        nsec -= 1_000_000_000L;
      }
      timeType = "float";
    } else if (time.isExtensionValue()
        && time.asExtensionValue().getType() == 0
        && time.asExtensionValue().getData().length == 8) {
      ExtensionValue x = time.asExtensionValue();
      ByteBuffer b = ByteBuffer.wrap(x.getData());
      sec = Integer.toUnsignedLong(b.getInt());
      nsec = Integer.toUnsignedLong(b.getInt());
      timeType = "eventtime";
    } else {
      throw new ProtocolException("time is a " + time.getValueType() + ", want integer, float or EventTime");
    }
    if (!record.isMapValue()) {
      throw new ProtocolException("record is a " + record.getValueType() + ", want a map");
    }
    StringBuilder sb = new StringBuilder(256);
    sb.append("{\"tag\":");
    Json.string(sb, tag);
    sb.append(",\"time\":");
    Json.string(sb, Instant.ofEpochSecond(sec, nsec).toString());
    sb.append(",\"time_sec\":").append(sec);
    sb.append(",\"time_nsec\":").append(nsec);
    sb.append(",\"time_type\":\"").append(timeType).append('"');
    sb.append(",\"mode\":\"").append(kind).append('"');
    sb.append(",\"record\":");
    Json.value(sb, record);
    sb.append('}');
    d.lines.add(sb.toString());
  }

  private static String optionString(Value option, String key) {
    if (option == null || !option.isMapValue()) {
      return null;
    }
    MapValue m = option.asMapValue();
    for (var e : m.entrySet()) {
      if (e.getKey().isRawValue()
          && e.getKey().asRawValue().asString().equals(key)
          && e.getValue().isRawValue()) {
        return e.getValue().asRawValue().asString();
      }
    }
    return null;
  }

  private static byte[] gunzip(byte[] data) throws IOException {
    try (GZIPInputStream z = new GZIPInputStream(new ByteArrayInputStream(data))) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(data.length * 4);
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = z.read(buf)) > 0) {
        out.write(buf, 0, n);
        if (out.size() > MAX_PACKED_BYTES) {
          throw new ProtocolException("compressed entries exceed " + MAX_PACKED_BYTES + " bytes");
        }
      }
      return out.toByteArray();
    }
  }

  @Override
  public void close() throws IOException {
    closing = true;
    listener.close();
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
