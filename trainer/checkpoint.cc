// Atomic checkpoint files and the `latest` pointer (see checkpoint.h).
#include "checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace braid::train {
namespace {

constexpr char kMagic[8] = {'B', 'R', 'A', 'I', 'D', 'C', 'K', 'P'};
constexpr uint32_t kVersion = 1;
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

// The fixed part of the header, in file order.
struct FixedHeader {
  char magic[8];
  uint32_t version, replicas;
  uint64_t step, samplerPosition, adamSteps, numParams;
  uint32_t identityBytes, rngBytes;
};

Status syncDirectory(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return systemError("open directory '" + dir + "'");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return systemError("fsync directory '" + dir + "'");
  return Status::ok();
}

// Writes text to dir/name through a synced temporary file and an atomic rename.
Status replaceFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::string tmp = dir + "/." + name + ".tmp", path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return systemError("create '" + tmp + "'");
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return systemError("write '" + path + "'");
  return syncDirectory(dir);
}

std::string stepName(uint64_t step) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "step-%08llu.ckpt", static_cast<unsigned long long>(step));
  return buf;
}

// Removes checkpoints other than the newest two (names sort by step), and temporary files that
// a crash during an earlier save left behind.
void pruneOld(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      auto endsWith = [&](const std::string& suffix) {
        return n.size() >= suffix.size() &&
               n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0;
      };
      if (n.rfind("step-", 0) == 0 && endsWith(".ckpt")) names.push_back(n);
      if (n.rfind(".step-", 0) == 0 && endsWith(".ckpt.tmp")) ::unlink((dir + "/" + n).c_str());
    }
    ::closedir(d);
  }
  std::sort(names.begin(), names.end());
  for (size_t i = 0; i + 2 < names.size(); ++i) ::unlink((dir + "/" + names[i]).c_str());
}

}  // namespace

Result<std::unique_ptr<CheckpointWriter>> CheckpointWriter::create(const std::string& dir,
                                                                   const CheckpointHeader& h) {
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST)
    return systemError("create checkpoint directory '" + dir + "'");
  std::unique_ptr<CheckpointWriter> w(new CheckpointWriter());
  w->dir_ = dir;
  w->name_ = stepName(h.step);
  w->tmpPath_ = dir + "/." + w->name_ + ".tmp";
  w->file_ = std::fopen(w->tmpPath_.c_str(), "wb");
  if (w->file_ == nullptr) return systemError("create '" + w->tmpPath_ + "'");
  w->hash_ = kFnvOffset;
  FixedHeader f{};
  std::memcpy(f.magic, kMagic, sizeof(kMagic));
  f.version = kVersion;
  f.replicas = h.replicas;
  f.step = h.step;
  f.samplerPosition = h.samplerPosition;
  f.adamSteps = h.adamSteps;
  f.numParams = h.numParams;
  f.identityBytes = static_cast<uint32_t>(h.identity.size());
  f.rngBytes = static_cast<uint32_t>(h.rngState.size());
  BRAID_RETURN_IF_ERROR(w->write(&f, sizeof(f)));
  BRAID_RETURN_IF_ERROR(w->write(h.identity.data(), h.identity.size()));
  BRAID_RETURN_IF_ERROR(w->write(h.rngState.data(), h.rngState.size()));
  return w;
}

CheckpointWriter::~CheckpointWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    ::unlink(tmpPath_.c_str());
  }
}

Status CheckpointWriter::write(const void* data, size_t bytes) {
  hash_ = fnv1a(hash_, data, bytes);
  if (bytes > 0 && std::fwrite(data, 1, bytes, file_) != bytes)
    return systemError("write '" + tmpPath_ + "'");
  return Status::ok();
}

Status CheckpointWriter::append(const float* data, size_t count) {
  return write(data, count * sizeof(float));
}

Status CheckpointWriter::commit() {
  uint64_t h = hash_;
  BRAID_RETURN_IF_ERROR(write(&h, sizeof(h)));
  bool ok = std::fflush(file_) == 0 && ::fsync(::fileno(file_)) == 0;
  ok = (std::fclose(file_) == 0) && ok;
  file_ = nullptr;
  std::string path = dir_ + "/" + name_;
  if (!ok || ::rename(tmpPath_.c_str(), path.c_str()) != 0) {
    ::unlink(tmpPath_.c_str());
    return systemError("write checkpoint '" + path + "'");
  }
  BRAID_RETURN_IF_ERROR(syncDirectory(dir_));
  BRAID_RETURN_IF_ERROR(replaceFile(dir_, "latest", name_ + "\n"));
  pruneOld(dir_);
  return Status::ok();
}

Result<std::unique_ptr<CheckpointReader>> CheckpointReader::openLatest(const std::string& dir) {
  std::string latest = dir + "/latest";
  FILE* lf = std::fopen(latest.c_str(), "r");
  if (lf == nullptr)
    return invalidArgument("no checkpoint to resume from: '" + latest + "' missing");
  char buf[256] = {};
  bool got = std::fgets(buf, sizeof(buf), lf) != nullptr;
  std::fclose(lf);
  std::string name = got ? std::string(buf, std::strcspn(buf, "\n")) : "";
  if (name.empty() || name.find('/') != std::string::npos)
    return invalidArgument("'" + latest + "' does not name a checkpoint");
  std::unique_ptr<CheckpointReader> r(new CheckpointReader());
  r->path_ = dir + "/" + name;
  r->file_ = std::fopen(r->path_.c_str(), "rb");
  if (r->file_ == nullptr) return systemError("open checkpoint '" + r->path_ + "'");
  r->hash_ = kFnvOffset;
  FixedHeader f{};
  BRAID_RETURN_IF_ERROR(r->readRaw(&f, sizeof(f)));
  if (std::memcmp(f.magic, kMagic, sizeof(kMagic)) != 0 || f.version != kVersion)
    return invalidArgument("'" + r->path_ + "' is not a braid-train checkpoint (version 1)");
  if (f.identityBytes > (1u << 20) || f.rngBytes > (1u << 20) || f.replicas == 0)
    return invalidArgument("'" + r->path_ + "' has a corrupt header");
  CheckpointHeader& h = r->header_;
  h.step = f.step;
  h.samplerPosition = f.samplerPosition;
  h.adamSteps = f.adamSteps;
  h.numParams = f.numParams;
  h.replicas = f.replicas;
  h.identity.resize(f.identityBytes);
  h.rngState.resize(f.rngBytes);
  BRAID_RETURN_IF_ERROR(r->readRaw(h.identity.data(), h.identity.size()));
  BRAID_RETURN_IF_ERROR(r->readRaw(h.rngState.data(), h.rngState.size()));
  return r;
}

CheckpointReader::~CheckpointReader() {
  if (file_ != nullptr) std::fclose(file_);
}

Status CheckpointReader::readRaw(void* data, size_t bytes) {
  if (bytes > 0 && std::fread(data, 1, bytes, file_) != bytes)
    return invalidArgument("checkpoint '" + path_ + "' is truncated");
  hash_ = fnv1a(hash_, data, bytes);
  return Status::ok();
}

Status CheckpointReader::read(float* dst, size_t count) {
  std::vector<float> scratch;
  if (dst == nullptr) {
    scratch.resize(count);
    dst = scratch.data();
  }
  return readRaw(dst, count * sizeof(float));
}

Status CheckpointReader::finish() {
  uint64_t expected = hash_, stored = 0;
  if (std::fread(&stored, 1, sizeof(stored), file_) != sizeof(stored) || stored != expected)
    return invalidArgument("checkpoint '" + path_ + "' is corrupt (checksum mismatch)");
  return Status::ok();
}

}  // namespace braid::train
