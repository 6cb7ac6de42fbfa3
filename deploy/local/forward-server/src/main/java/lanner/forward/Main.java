package lanner.forward;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

/**
 * lanner-forward-server: an independent Fluentd Forward protocol v1 server that stores every
 * record it accepts as one JSON line, for lanner's Fluentd output tests and benchmarks.
 *
 * <pre>
 * java -jar lanner-forward-server.jar [flags]
 *   --host ADDR          listen address (default 127.0.0.1)
 *   --port N             Forward port (default 24224; 0 = any free port)
 *   --control-port N     HTTP control port on the same address (default 24225; 0 = any free
 *                        port; -1 = none)
 *   --out FILE           JSON lines file, appended to (default records.jsonl)
 *   --ack MODE           ack | withhold | store-noack | close (default ack)
 *   --delay-ms N         wait N ms before storing and acknowledging each message (default 0)
 *   --version            print the version and exit
 * </pre>
 *
 * Each line: {"tag", "time" (RFC 3339, nanoseconds), "time_sec", "time_nsec", "time_type"
 * (eventtime, integer or float: what the client sent), "mode" (message, forward, packed,
 * compressed), "record"}.
 *
 * <p>Once both ports listen, one line goes to stdout, for a test that starts its own server on
 * free ports: {@code listening forward=127.0.0.1:PORT control=127.0.0.1:PORT records=PATH}.
 */
public final class Main {
  static final String VERSION;
  static final String MSGPACK_VERSION;

  static {
    Properties p = new Properties();
    try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
      if (in != null) {
        p.load(in);
      }
    } catch (IOException e) {
      // versions stay unknown
    }
    VERSION = p.getProperty("version", "unknown");
    MSGPACK_VERSION = p.getProperty("msgpack", "unknown");
  }

  private Main() {}

  static void log(String msg) {
    System.err.println(Instant.now() + " " + msg);
  }

  private static String need(String[] args, int i) {
    if (i + 1 >= args.length) {
      usage(args[i] + " needs a value");
    }
    return args[i + 1];
  }

  private static int port(String flag, String v) {
    try {
      int p = Integer.parseInt(v);
      if (p < -1 || p > 65535) {
        throw new NumberFormatException();
      }
      return p;
    } catch (NumberFormatException e) {
      usage(flag + ": not a port number: " + v);
      return 0;
    }
  }

  private static void usage(String why) {
    System.err.println("lanner-forward-server: " + why);
    System.err.println(
        "usage: lanner-forward-server [--host ADDR] [--port N] [--control-port N] [--out FILE]"
            + " [--ack ack|withhold|store-noack|close] [--delay-ms N] [--version]");
    System.exit(2);
  }

  public static void main(String[] args) throws Exception {
    String host = "127.0.0.1";
    int port = 24224;
    int controlPort = 24225;
    String out = "records.jsonl";
    Behavior.Ack ack = Behavior.Ack.ACK;
    long delay = 0;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--host":
          host = need(args, i++);
          break;
        case "--port":
          port = port("--port", need(args, i++));
          break;
        case "--control-port":
          controlPort = port("--control-port", need(args, i++));
          break;
        case "--out":
          out = need(args, i++);
          break;
        case "--ack":
          try {
            ack = Behavior.Ack.parse(need(args, i++));
          } catch (IllegalArgumentException e) {
            usage(e.getMessage());
          }
          break;
        case "--delay-ms":
          try {
            delay = Long.parseLong(need(args, i++));
          } catch (NumberFormatException e) {
            usage("--delay-ms: not a number");
          }
          break;
        case "--version":
          System.out.println(
              "lanner-forward-server " + VERSION + " (msgpack-core " + MSGPACK_VERSION
                  + ", Forward protocol v1)");
          return;
        case "-h":
        case "--help":
          usage("flags");
          break;
        default:
          usage("unknown flag " + args[i]);
      }
    }
    if (port < 0) {
      usage("--port: want 0 to 65535");
    }
    Behavior behavior;
    try {
      behavior = new Behavior(ack, delay);
    } catch (IllegalArgumentException e) {
      usage(e.getMessage());
      return;
    }
    InetAddress addr = InetAddress.getByName(host);
    RecordLog log = new RecordLog(Path.of(out));
    ForwardServer server = new ForwardServer(new InetSocketAddress(addr, port), behavior, log);
    Control control = null;
    if (controlPort >= 0) {
      control = new Control(new InetSocketAddress(addr, controlPort), server, behavior, log);
      control.start();
    }
    server.serve();
    System.out.println(
        "listening forward="
            + Control.hostPort(server.address())
            + " control="
            + (control != null ? Control.hostPort(control.address()) : "none")
            + " records="
            + log.path().toAbsolutePath());
    System.out.flush();
    log(
        "lanner-forward-server "
            + VERSION
            + " listening on "
            + Control.hostPort(server.address())
            + (control != null ? ", control http://" + Control.hostPort(control.address()) : "")
            + ", records to "
            + log.path().toAbsolutePath()
            + ", ack="
            + behavior.ack().wire()
            + " delay_ms="
            + behavior.delayMillis());

    CountDownLatch done = new CountDownLatch(1);
    Control c = control;
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  log("shutting down");
                  try {
                    server.close();
                    if (c != null) {
                      c.close();
                    }
                    log.close();
                  } catch (IOException e) {
                    log("shutdown: " + e);
                  }
                  done.countDown();
                }));
    done.await();
  }
}
