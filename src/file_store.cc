// The file store: a directory that every rank can see (local disk or a shared file system).
// Each key is one file named by a reversible encoding of the key, written atomically with
// write + rename(2), so a reader sees either nothing or the whole value. add() serialises its
// read-modify-write with flock(2) on a per-key lock file.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <thread>

#include "braid/store.h"
#include "util/socket.h"

namespace braid {
namespace {

using Clock = std::chrono::steady_clock;

// File names stay well below NAME_MAX (255) even with the ".lock." / ".tmp." decorations.
constexpr size_t kMaxNameBytes = 180;

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

// Letters, digits, '-', '_' and (not leading) '.' are kept; every other byte becomes %XX.
// Overlong names are cut and made unique with a hash of the whole key.
std::string encodeKey(const std::string& key) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    bool keep = std::isalnum(c) || c == '-' || c == '_' || (c == '.' && i > 0);
    if (keep) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  if (out.empty()) out = "%";  // the empty key
  if (out.size() > kMaxNameBytes) {
    char hash[17];
    auto res = std::to_chars(hash, hash + 16, fnv1a(key), 16);
    out.resize(kMaxNameBytes - 20);
    out += "~" + std::string(hash, res.ptr);
  }
  return out;
}

Result<Bytes> readWholeFile(int fd, const std::string& path) {
  Bytes data;
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_size > 0) data.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[65536];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      data.insert(data.end(), buf, buf + n);
    } else if (n == 0) {
      return data;
    } else if (errno != EINTR) {
      return systemError("read " + path);
    }
  }
}

class FileStore : public Store {
 public:
  explicit FileStore(std::string directory) : dir_(std::move(directory)) {
    (void)ensureDirectory();
  }

  Status set(const std::string& key, const Bytes& value) override {
    BRAID_RETURN_IF_ERROR(ensureDirectory());
    return writeAtomically(pathOf(key), value);
  }

  Result<Bytes> get(const std::string& key, std::chrono::milliseconds timeout) override {
    constexpr auto kForever = std::chrono::hours(24 * 365 * 10);
    if (timeout < std::chrono::milliseconds(0)) timeout = std::chrono::milliseconds(0);
    const auto deadline = Clock::now() + std::min<Clock::duration>(timeout, kForever);
    const std::string path = pathOf(key);
    auto sleep = std::chrono::milliseconds(1);
    while (true) {
      net::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (fd.valid()) return readWholeFile(fd.get(), path);
      if (errno != ENOENT) return systemError("open " + path);
      auto now = Clock::now();
      if (now >= deadline) {
        return timeoutError("timed out after " + std::to_string(timeout.count()) +
                            " ms waiting for store key '" + key + "' (file store " + dir_ + ")");
      }
      std::this_thread::sleep_for(std::min<Clock::duration>(sleep, deadline - now));
      sleep = std::min(sleep * 2, std::chrono::milliseconds(50));
    }
  }

  Result<int64_t> add(const std::string& key, int64_t delta) override {
    BRAID_RETURN_IF_ERROR(ensureDirectory());
    const std::string name = encodeKey(key);
    const std::string lockPath = dir_ + "/.lock." + name;
    net::Fd lock(::open(lockPath.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!lock.valid()) return systemError("open " + lockPath);
    while (::flock(lock.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return systemError("flock " + lockPath);
    }
    // The lock is released when `lock` closes, on every return path.
    const std::string path = dir_ + "/" + name;
    int64_t value = 0;
    net::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) {
      Result<Bytes> data = readWholeFile(fd.get(), path);
      if (!data.isOk()) return data.status();
      const Bytes& b = data.value();
      if (!b.empty()) {
        const char* begin = reinterpret_cast<const char*>(b.data());
        auto [ptr, ec] = std::from_chars(begin, begin + b.size(), value);
        if (ec != std::errc() || ptr != begin + b.size()) {
          return invalidArgument("store key '" + key + "' does not hold an integer");
        }
      }
    } else if (errno != ENOENT) {
      return systemError("open " + path);
    }
    value += delta;
    std::string text = std::to_string(value);
    BRAID_RETURN_IF_ERROR(writeAtomically(path, Bytes(text.begin(), text.end())));
    return value;
  }

  Result<bool> check(const std::vector<std::string>& keys) override {
    for (const auto& key : keys) {
      const std::string path = pathOf(key);
      if (::access(path.c_str(), F_OK) != 0) {
        if (errno == ENOENT) return false;
        return systemError("access " + path);
      }
    }
    return true;
  }

 private:
  std::string pathOf(const std::string& key) const { return dir_ + "/" + encodeKey(key); }

  // Creates the directory (and its parents) if missing. Retried on every write, so that a
  // directory that appears later (a slow shared mount) is picked up.
  Status ensureDirectory() {
    if (dirReady_.load(std::memory_order_acquire)) return Status::ok();
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec && !std::filesystem::is_directory(dir_)) {
      return Status(StatusCode::kSystemError,
                    "cannot create file store directory " + dir_ + ": " + ec.message());
    }
    dirReady_.store(true, std::memory_order_release);
    return Status::ok();
  }

  // Writes value to a unique temporary file, then renames it over path.
  Status writeAtomically(const std::string& path, const Bytes& value) {
    const std::string tmp =
        dir_ + "/.tmp." + std::to_string(::getpid()) + "." + std::to_string(net::randomU64());
    {
      net::Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
      if (!fd.valid()) return systemError("create " + tmp);
      size_t done = 0;
      while (done < value.size()) {
        ssize_t n = ::write(fd.get(), value.data() + done, value.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          Status s = systemError("write " + tmp);
          ::unlink(tmp.c_str());
          return s;
        }
        done += static_cast<size_t>(n);
      }
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      Status s = systemError("rename " + tmp + " to " + path);
      ::unlink(tmp.c_str());
      return s;
    }
    return Status::ok();
  }

  const std::string dir_;
  std::atomic<bool> dirReady_{false};
};

}  // namespace

std::shared_ptr<Store> makeFileStore(const std::string& directory) {
  std::string dir = directory;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) dir = ".";
  return std::make_shared<FileStore>(dir);
}

}  // namespace braid
