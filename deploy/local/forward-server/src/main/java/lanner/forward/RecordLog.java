package lanner.forward;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * The JSON lines file of stored records. A message's lines are written and flushed to the file
 * before its ack leaves, so a test that got an ack can read the records right away.
 */
final class RecordLog implements AutoCloseable {
  private final Path path;
  private Writer out;

  RecordLog(Path path) throws IOException {
    this.path = path;
    Path dir = path.toAbsolutePath().getParent();
    if (dir != null) {
      Files.createDirectories(dir);
    }
    this.out = open(StandardOpenOption.APPEND);
  }

  private Writer open(StandardOpenOption mode) throws IOException {
    return new BufferedWriter(
        new OutputStreamWriter(
            Files.newOutputStream(
                path, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode),
            StandardCharsets.UTF_8),
        1 << 16);
  }

  Path path() {
    return path;
  }

  synchronized void write(List<String> lines) throws IOException {
    for (String l : lines) {
      out.write(l);
      out.write('\n');
    }
    out.flush();
  }

  /** Empties the file (the control port's /reset). */
  synchronized void truncate() throws IOException {
    out.close();
    out = open(StandardOpenOption.TRUNCATE_EXISTING);
  }

  @Override
  public synchronized void close() throws IOException {
    out.close();
  }
}
