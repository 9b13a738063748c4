// orbitfake: a test-only SoapySDR device module (driver key "orbitfake").
//
// Built by the tests (orbitlink.tests.soapy_fake.build, or `make soapy`) into build/soapy/ and
// loaded through SOAPY_SDR_PLUGIN_PATH or SoapySDR.loadModule. It lets the SoapySDR driver of
// orbitlink run through the real library and reproduce, exactly and countably, what real radios
// do (LIVE-STATION.md B and C):
//
//   serial=S           device identity (SoapySDR returns the same instance for equal args)
//   file=PATH          RX plays this cf32 file (a .sigmf-meta is read through its .sigmf-data);
//                      without it, RX plays a tone; the last samples of a file carry END_BURST
//   loop=1             replay the file forever
//   rate=max|realtime  RX as fast as asked, or paced by the wall clock at the sample rate
//   speed=F            with rate=realtime: paced at F times the sample rate (default 1; F > 0,
//                      e.g. speed=10 plays 10 s of signal a second; sample timestamps keep
//                      the configured rate, only the wall-clock pacing is faster)
//   mtu=N              most samples per readStream (4096)
//   txfile=PATH        TX samples are appended (cf32); PATH.bursts gets one JSON line a burst
//                      {"burst", "offset", "count", "time_ns", "late", "underflow"}
//   overflow_every=N   every Nth readStream returns OVERFLOW and skips overflow_skip samples
//                      (default 4096; timestamps keep counting, as RTL-SDR and bladeRF do)
//   gap_every=N,gap=K  every Nth readStream skips K samples silently (the timestamp jumps)
//   status_drop_every=N,status_drop=K   every Nth readStream skips K samples (default 1024)
//                      and reports it only through readStreamStatus as TIME_ERROR (LimeSDR)
//   no_time=1          no hardware time, no HAS_TIME (HackRF, Airspy, PlutoSDR)
//   reports_overflow=0 hardware info says the driver never reports overflows (PlutoSDR)
//   late=1             every TX burst is reported late; otherwise a burst whose time is before
//                      the device's time is late (discarded, TIME_ERROR via readStreamStatus)
//   underflow_every=N  every Nth TX burst also reports UNDERFLOW
//   log=PATH           appends one line per lifecycle event (make, setup, activate,
//                      deactivate, close_stream, unmake)
//
// Sensors (readSensor) count what was injected: reads, overflows, overflow_samples, gaps,
// gap_samples, status_drops, status_drop_samples, rx_index, tx_samples, bursts, late_bursts.

#include <SoapySDR/Device.hpp>
#include <SoapySDR/Errors.hpp>
#include <SoapySDR/Formats.hpp>
#include <SoapySDR/Registry.hpp>
#include <SoapySDR/Time.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <complex>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using cf32 = std::complex<float>;

struct Status {
    int ret;
    int flags;
    long long timeNs;
};

std::string arg(const SoapySDR::Kwargs &a, const std::string &k, const std::string &def = "")
{
    auto it = a.find(k);
    return it == a.end() ? def : it->second;
}

long long argInt(const SoapySDR::Kwargs &a, const std::string &k, long long def)
{
    auto s = arg(a, k);
    if (s.empty()) return def;
    try {
        return std::stoll(s);
    } catch (...) {
        throw std::runtime_error("orbitfake: " + k + "=" + s + " is not an integer");
    }
}

bool argBool(const SoapySDR::Kwargs &a, const std::string &k)
{
    auto s = arg(a, k);
    return !s.empty() && s != "0" && s != "false" && s != "no";
}

const SoapySDR::Range &checkIn(const SoapySDR::RangeList &ranges, double v, const char *what)
{
    for (const auto &r : ranges)
        if (v >= r.minimum() && v <= r.maximum()) return r;
    throw std::runtime_error(std::string("orbitfake: ") + what + " " + std::to_string(v) +
                             " is out of range");
}

class OrbitFake : public SoapySDR::Device
{
public:
    explicit OrbitFake(const SoapySDR::Kwargs &args) : args_(args)
    {
        serial_ = arg(args, "serial", "0");
        file_ = arg(args, "file");
        const std::string meta = ".sigmf-meta";
        if (file_.size() > meta.size() &&
            file_.compare(file_.size() - meta.size(), meta.size(), meta) == 0)
            file_ = file_.substr(0, file_.size() - meta.size()) + ".sigmf-data";
        auto rate = arg(args, "rate", "max");
        if (rate != "max" && rate != "realtime")
            throw std::runtime_error("orbitfake: rate must be max or realtime, not " + rate);
        realtime_ = rate == "realtime";
        {
            auto sp = arg(args, "speed");
            if (!sp.empty()) {
                try {
                    size_t used = 0;
                    speed_ = std::stod(sp, &used);
                    if (used != sp.size()) throw std::invalid_argument(sp);
                } catch (...) {
                    throw std::runtime_error("orbitfake: speed=" + sp + " is not a number");
                }
                if (!(speed_ > 0) || !std::isfinite(speed_))
                    throw std::runtime_error("orbitfake: speed=" + sp + " is not a positive number");
                if (!realtime_)
                    throw std::runtime_error("orbitfake: speed= paces rate=realtime; give both");
            }
        }
        loop_ = argBool(args, "loop");
        mtu_ = size_t(std::max(1LL, argInt(args, "mtu", 4096)));
        overflowEvery_ = argInt(args, "overflow_every", 0);
        overflowSkip_ = argInt(args, "overflow_skip", 4096);
        gapEvery_ = argInt(args, "gap_every", 0);
        gap_ = argInt(args, "gap", 0);
        statusDropEvery_ = argInt(args, "status_drop_every", 0);
        statusDrop_ = argInt(args, "status_drop", 1024);
        underflowEvery_ = argInt(args, "underflow_every", 0);
        noTime_ = argBool(args, "no_time");
        lateAll_ = argBool(args, "late");
        reportsOverflow_ = arg(args, "reports_overflow", "1") != "0";
        txPath_ = arg(args, "txfile");
        log_ = arg(args, "log");

        if (!file_.empty()) {
            rxFile_ = std::fopen(file_.c_str(), "rb");
            if (rxFile_ == nullptr) throw std::runtime_error("orbitfake: cannot open " + file_);
            std::fseek(rxFile_, 0, SEEK_END);
            fileSamples_ = (long long)(std::ftell(rxFile_) / sizeof(cf32));
            std::fseek(rxFile_, 0, SEEK_SET);
        }
        tone_.resize(1000);  // 10 periods of a tone at rate/100
        for (size_t i = 0; i < tone_.size(); i++) {
            double ph = 2 * M_PI * double(i) / 100.0;
            tone_[i] = cf32(float(0.5 * std::cos(ph)), float(0.5 * std::sin(ph)));
        }
        for (int d = 0; d < 2; d++) {
            rate_[d] = 1e6;
            freq_[d] = d == SOAPY_SDR_RX ? 437.5e6 : 145.9e6;
            bw_[d] = 1e6;
            antenna_[d] = listAntennas(d, 0).front();
            for (const auto &g : listGains(d, 0)) gains_[d][g] = getGainRange(d, 0, g).minimum();
        }
        wall0_ = Clock::now();
        log("make serial=" + serial_);
    }

    ~OrbitFake(void) override
    {
        if (rxFile_) std::fclose(rxFile_);
        if (txFile_) std::fclose(txFile_);
        if (burstFile_) std::fclose(burstFile_);
        log("unmake serial=" + serial_);
    }

    // identification -----------------------------------------------------------------------
    std::string getDriverKey(void) const override { return "orbitfake"; }
    std::string getHardwareKey(void) const override { return "OrbitFake"; }
    SoapySDR::Kwargs getHardwareInfo(void) const override
    {
        SoapySDR::Kwargs info;
        info["serial"] = serial_;
        info["origin"] = "orbitlink tests/soapy/OrbitFake.cpp";
        info["reports_overflow"] = reportsOverflow_ ? "1" : "0";
        return info;
    }
    size_t getNumChannels(const int) const override { return 1; }
    bool getFullDuplex(const int, const size_t) const override { return true; }

    // streams --------------------------------------------------------------------------------
    std::vector<std::string> getStreamFormats(const int, const size_t) const override
    {
        return {SOAPY_SDR_CF32};
    }
    std::string getNativeStreamFormat(const int, const size_t, double &fullScale) const override
    {
        fullScale = 1.0;
        return SOAPY_SDR_CF32;
    }

    SoapySDR::Stream *setupStream(const int direction, const std::string &format,
                                  const std::vector<size_t> &channels,
                                  const SoapySDR::Kwargs &) override
    {
        if (format != SOAPY_SDR_CF32)
            throw std::runtime_error("orbitfake: only CF32 streams, not " + format);
        for (auto c : channels)
            if (c != 0) throw std::runtime_error("orbitfake: one channel (0)");
        if (direction == SOAPY_SDR_TX && !txPath_.empty() && txFile_ == nullptr) {
            txFile_ = std::fopen(txPath_.c_str(), "wb");
            burstFile_ = std::fopen((txPath_ + ".bursts").c_str(), "w");
            if (!txFile_ || !burstFile_)
                throw std::runtime_error("orbitfake: cannot write " + txPath_);
        }
        log(std::string("setup ") + dirName(direction));
        return stream(direction);
    }

    void closeStream(SoapySDR::Stream *s) override
    {
        int d = dirOf(s);
        active_[d] = false;
        statusCv_.notify_all();
        log(std::string("close_stream ") + dirName(d));
    }

    size_t getStreamMTU(SoapySDR::Stream *) const override { return mtu_; }

    int activateStream(SoapySDR::Stream *s, const int flags, const long long timeNs,
                       const size_t) override
    {
        int d = dirOf(s);
        if (d == SOAPY_SDR_RX) {
            rxWall0_ = Clock::now();
            rxIndex0_ = rxIndex_;
            rxTime0_ = (flags & SOAPY_SDR_HAS_TIME) ? timeNs : noTime_ ? 0 : getHardwareTime();
        }
        active_[d] = true;
        log(std::string("activate ") + dirName(d));
        return 0;
    }

    int deactivateStream(SoapySDR::Stream *s, const int, const long long) override
    {
        int d = dirOf(s);
        active_[d] = false;
        statusCv_.notify_all();
        log(std::string("deactivate ") + dirName(d));
        return 0;
    }

    int readStream(SoapySDR::Stream *s, void *const *buffs, const size_t numElems, int &flags,
                   long long &timeNs, const long timeoutUs) override
    {
        flags = 0;
        timeNs = 0;
        if (dirOf(s) != SOAPY_SDR_RX) return SOAPY_SDR_NOT_SUPPORTED;
        if (!active_[SOAPY_SDR_RX] || ended_) {
            sleepUs(timeoutUs);
            return SOAPY_SDR_TIMEOUT;
        }
        const long long k = ++reads_;
        if (overflowEvery_ > 0 && k % overflowEvery_ == 0) {
            rxIndex_ += overflowSkip_;
            overflows_++;
            overflowSamples_ += overflowSkip_;
            return SOAPY_SDR_OVERFLOW;
        }
        if (gapEvery_ > 0 && k % gapEvery_ == 0 && gap_ > 0) {
            rxIndex_ += gap_;
            gaps_++;
            gapSamples_ += gap_;
        }
        if (statusDropEvery_ > 0 && k % statusDropEvery_ == 0 && statusDrop_ > 0) {
            pushStatus(SOAPY_SDR_RX, {SOAPY_SDR_TIME_ERROR, noTime_ ? 0 : SOAPY_SDR_HAS_TIME,
                                      indexTime(rxIndex_)});
            rxIndex_ += statusDrop_;
            statusDrops_++;
            statusDropSamples_ += statusDrop_;
        }
        long long n = (long long)std::min(numElems, mtu_);
        const bool finite = rxFile_ != nullptr && !loop_;
        if (finite) n = std::min(n, fileSamples_ - rxIndex_);
        if (n <= 0) {  // the skips ran past the end of the file
            ended_ = true;
            flags = SOAPY_SDR_END_BURST;
            return 0;
        }
        if (realtime_) {
            const double rate = rate_[SOAPY_SDR_RX] * speed_;
            auto due = [&](long long idx) {
                return rxWall0_ + std::chrono::nanoseconds(
                                      (long long)(double(idx - rxIndex0_) * 1e9 / rate));
            };
            auto limit = Clock::now() + std::chrono::microseconds(timeoutUs);
            if (due(rxIndex_ + 1) > limit) {
                std::this_thread::sleep_until(limit);
                return SOAPY_SDR_TIMEOUT;
            }
            while (n > 1 && due(rxIndex_ + n) > limit) n /= 2;
            std::this_thread::sleep_until(due(rxIndex_ + n));
        }
        fill(static_cast<cf32 *>(buffs[0]), rxIndex_, size_t(n));
        if (!noTime_) {
            flags |= SOAPY_SDR_HAS_TIME;
            timeNs = indexTime(rxIndex_);
        }
        rxIndex_ += n;
        if (finite && rxIndex_ >= fileSamples_) {
            ended_ = true;
            flags |= SOAPY_SDR_END_BURST;
        }
        return int(n);
    }

    int writeStream(SoapySDR::Stream *s, const void *const *buffs, const size_t numElems,
                    int &flags, const long long timeNs, const long) override
    {
        if (dirOf(s) != SOAPY_SDR_TX) return SOAPY_SDR_NOT_SUPPORTED;
        if (!active_[SOAPY_SDR_TX]) return SOAPY_SDR_STREAM_ERROR;
        const size_t n = std::min(numElems, mtu_);
        const bool last = (flags & SOAPY_SDR_END_BURST) && n == numElems;
        if (!inBurst_) {
            inBurst_ = true;
            burstHasTime_ = (flags & SOAPY_SDR_HAS_TIME) != 0;
            burstTime_ = timeNs;
            burstOffset_ = txSamples_;
            burstCount_ = 0;
            burstLate_ = lateAll_ || (burstHasTime_ && timeNs < getHardwareTime());
        }
        if (!burstLate_ && txFile_ != nullptr) {
            std::fwrite(buffs[0], sizeof(cf32), n, txFile_);
            txSamples_ += (long long)n;
        }
        burstCount_ += (long long)n;
        if (last) endBurst();
        return int(n);
    }

    int readStreamStatus(SoapySDR::Stream *s, size_t &chanMask, int &flags, long long &timeNs,
                         const long timeoutUs) override
    {
        int d = dirOf(s);
        std::unique_lock<std::mutex> lock(statusMutex_);
        if (status_[d].empty() && timeoutUs > 0)
            statusCv_.wait_for(lock, std::chrono::microseconds(timeoutUs),
                               [&] { return !status_[d].empty(); });
        if (status_[d].empty()) return SOAPY_SDR_TIMEOUT;
        Status st = status_[d].front();
        status_[d].pop_front();
        chanMask = 1;
        flags = st.flags;
        timeNs = st.timeNs;
        return st.ret;
    }

    // antennas, gains, frequencies, rates ----------------------------------------------------
    std::vector<std::string> listAntennas(const int d, const size_t) const override
    {
        if (d == SOAPY_SDR_RX) return {"RX", "LNAW", "LNAH"};
        return {"TX", "BAND1", "BAND2"};
    }
    void setAntenna(const int d, const size_t, const std::string &name) override
    {
        auto names = listAntennas(d, 0);
        if (std::find(names.begin(), names.end(), name) == names.end())
            throw std::runtime_error("orbitfake: no antenna " + name);
        antenna_[d] = name;
    }
    std::string getAntenna(const int d, const size_t) const override { return antenna_[d]; }

    std::vector<std::string> listGains(const int d, const size_t) const override
    {
        if (d == SOAPY_SDR_RX) return {"LNA", "VGA"};
        return {"PAD", "IAMP"};
    }
    SoapySDR::Range getGainRange(const int d, const size_t, const std::string &name) const override
    {
        if (d == SOAPY_SDR_RX && name == "LNA") return SoapySDR::Range(0, 40, 8);
        if (d == SOAPY_SDR_RX && name == "VGA") return SoapySDR::Range(0, 62, 2);
        if (d == SOAPY_SDR_TX && name == "PAD") return SoapySDR::Range(0, 52, 1);
        if (d == SOAPY_SDR_TX && name == "IAMP") return SoapySDR::Range(-12, 12, 1);
        throw std::runtime_error("orbitfake: no gain element " + name);
    }
    void setGain(const int d, const size_t, const std::string &name, const double v) override
    {
        auto r = getGainRange(d, 0, name);
        gains_[d][name] = std::min(std::max(v, r.minimum()), r.maximum());
    }
    double getGain(const int d, const size_t, const std::string &name) const override
    {
        getGainRange(d, 0, name);
        return gains_[d].at(name);
    }
    bool hasGainMode(const int d, const size_t) const override { return d == SOAPY_SDR_RX; }
    void setGainMode(const int d, const size_t, const bool automatic) override
    {
        if (d != SOAPY_SDR_RX) throw std::runtime_error("orbitfake: no TX AGC");
        agc_ = automatic;
    }
    bool getGainMode(const int d, const size_t) const override
    {
        return d == SOAPY_SDR_RX && agc_;
    }

    std::vector<std::string> listFrequencies(const int, const size_t) const override
    {
        return {"RF"};
    }
    SoapySDR::RangeList getFrequencyRange(const int d, const size_t) const override
    {
        if (d == SOAPY_SDR_RX) return {SoapySDR::Range(1e6, 6e9)};
        return {SoapySDR::Range(47e6, 6e9)};
    }
    SoapySDR::RangeList getFrequencyRange(const int d, const size_t,
                                          const std::string &) const override
    {
        return getFrequencyRange(d, 0);
    }
    void setFrequency(const int d, const size_t, const double f, const SoapySDR::Kwargs &) override
    {
        checkIn(getFrequencyRange(d, 0), f, "frequency");
        freq_[d] = f;
    }
    void setFrequency(const int d, const size_t, const std::string &, const double f,
                      const SoapySDR::Kwargs &) override
    {
        setFrequency(d, 0, f, SoapySDR::Kwargs());
    }
    double getFrequency(const int d, const size_t) const override { return freq_[d]; }
    double getFrequency(const int d, const size_t, const std::string &) const override
    {
        return freq_[d];
    }

    SoapySDR::RangeList getSampleRateRange(const int, const size_t) const override
    {
        return {SoapySDR::Range(1e3, 61.44e6)};
    }
    std::vector<double> listSampleRates(const int, const size_t) const override
    {
        return {48e3, 250e3, 1e6, 2.4e6, 10e6, 30.72e6, 61.44e6};
    }
    void setSampleRate(const int d, const size_t, const double rate) override
    {
        checkIn(getSampleRateRange(d, 0), rate, "sample rate");
        rate_[d] = rate;
    }
    double getSampleRate(const int d, const size_t) const override { return rate_[d]; }

    SoapySDR::RangeList getBandwidthRange(const int, const size_t) const override
    {
        return {SoapySDR::Range(200e3, 56e6)};
    }
    void setBandwidth(const int d, const size_t, const double bw) override
    {
        checkIn(getBandwidthRange(d, 0), bw, "bandwidth");
        bw_[d] = bw;
    }
    double getBandwidth(const int d, const size_t) const override { return bw_[d]; }

    std::vector<std::string> listClockSources(void) const override
    {
        return {"internal", "external"};
    }
    void setClockSource(const std::string &src) override
    {
        auto l = listClockSources();
        if (std::find(l.begin(), l.end(), src) == l.end())
            throw std::runtime_error("orbitfake: no clock source " + src);
        clock_ = src;
    }
    std::string getClockSource(void) const override { return clock_; }
    std::vector<std::string> listTimeSources(void) const override
    {
        return {"internal", "external", "pps"};
    }
    void setTimeSource(const std::string &src) override
    {
        auto l = listTimeSources();
        if (std::find(l.begin(), l.end(), src) == l.end())
            throw std::runtime_error("orbitfake: no time source " + src);
        timeSrc_ = src;
    }
    std::string getTimeSource(void) const override { return timeSrc_; }

    // time -----------------------------------------------------------------------------------
    bool hasHardwareTime(const std::string &what) const override
    {
        return !noTime_ && what.empty();
    }
    long long getHardwareTime(const std::string & = "") const override
    {
        if (noTime_) throw std::runtime_error("orbitfake: no hardware time (no_time=1)");
        std::lock_guard<std::mutex> lock(timeMutex_);
        return time0_ + std::chrono::duration_cast<std::chrono::nanoseconds>(
                            Clock::now() - wall0_).count();
    }
    void setHardwareTime(const long long timeNs, const std::string & = "") override
    {
        if (noTime_) throw std::runtime_error("orbitfake: no hardware time (no_time=1)");
        std::lock_guard<std::mutex> lock(timeMutex_);
        time0_ = timeNs;
        wall0_ = Clock::now();
    }

    // sensors: what was injected -------------------------------------------------------------
    std::vector<std::string> listSensors(void) const override
    {
        return {"reads", "overflows", "overflow_samples", "gaps", "gap_samples", "status_drops",
                "status_drop_samples", "rx_index", "tx_samples", "bursts", "late_bursts"};
    }
    std::string readSensor(const std::string &key) const override
    {
        std::map<std::string, long long> v = {
            {"reads", reads_}, {"overflows", overflows_},
            {"overflow_samples", overflowSamples_}, {"gaps", gaps_},
            {"gap_samples", gapSamples_}, {"status_drops", statusDrops_},
            {"status_drop_samples", statusDropSamples_}, {"rx_index", rxIndex_},
            {"tx_samples", txSamples_}, {"bursts", bursts_}, {"late_bursts", lateBursts_}};
        auto it = v.find(key);
        if (it == v.end()) throw std::runtime_error("orbitfake: no sensor " + key);
        return std::to_string(it->second);
    }

private:
    static const char *dirName(int d) { return d == SOAPY_SDR_RX ? "rx" : "tx"; }
    SoapySDR::Stream *stream(int d)
    {
        return reinterpret_cast<SoapySDR::Stream *>(&streamTags_[d]);
    }
    int dirOf(SoapySDR::Stream *s) const
    {
        return reinterpret_cast<const char *>(s) == &streamTags_[SOAPY_SDR_RX] ? SOAPY_SDR_RX
                                                                               : SOAPY_SDR_TX;
    }
    static void sleepUs(long us)
    {
        if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    long long indexTime(long long idx) const
    {
        return rxTime0_ + SoapySDR::ticksToTimeNs(idx - rxIndex0_, rate_[SOAPY_SDR_RX]);
    }
    void log(const std::string &line) const
    {
        if (log_.empty()) return;
        if (FILE *f = std::fopen(log_.c_str(), "a")) {
            std::fprintf(f, "%s\n", line.c_str());
            std::fclose(f);
        }
    }
    void pushStatus(int d, Status st)
    {
        {
            std::lock_guard<std::mutex> lock(statusMutex_);
            status_[d].push_back(st);
        }
        statusCv_.notify_all();
    }
    void fill(cf32 *out, long long idx, size_t n)
    {
        if (rxFile_ == nullptr) {
            size_t done = 0;
            while (done < n) {
                size_t at = size_t((idx + (long long)done) % (long long)tone_.size());
                size_t k = std::min(n - done, tone_.size() - at);
                std::memcpy(out + done, tone_.data() + at, k * sizeof(cf32));
                done += k;
            }
            return;
        }
        size_t done = 0;
        while (done < n) {
            long long pos = idx + (long long)done;
            if (loop_ && fileSamples_ > 0) pos %= fileSamples_;
            size_t k = n - done;
            if (loop_) k = std::min(k, size_t(fileSamples_ - pos));
            std::fseek(rxFile_, long(pos * (long long)sizeof(cf32)), SEEK_SET);
            size_t got = std::fread(out + done, sizeof(cf32), k, rxFile_);
            if (got < k) std::memset(out + done + got, 0, (k - got) * sizeof(cf32));
            done += k;
        }
    }
    void endBurst()
    {
        inBurst_ = false;
        const long long t = burstHasTime_ ? burstTime_ : 0;
        const int tf = burstHasTime_ ? SOAPY_SDR_HAS_TIME : 0;
        bursts_++;
        const bool under = underflowEvery_ > 0 && bursts_ % underflowEvery_ == 0;
        if (burstFile_ != nullptr) {
            std::fprintf(burstFile_,
                         "{\"burst\": %lld, \"offset\": %lld, \"count\": %lld, \"time_ns\": ",
                         bursts_ - 1, burstOffset_, burstLate_ ? 0LL : burstCount_);
            if (burstHasTime_) std::fprintf(burstFile_, "%lld", burstTime_);
            else std::fprintf(burstFile_, "null");
            std::fprintf(burstFile_, ", \"late\": %s, \"underflow\": %s}\n",
                         burstLate_ ? "true" : "false", under ? "true" : "false");
            std::fflush(burstFile_);
        }
        if (txFile_ != nullptr) std::fflush(txFile_);
        if (burstLate_) {
            lateBursts_++;
            pushStatus(SOAPY_SDR_TX, {SOAPY_SDR_TIME_ERROR, tf, t});
            return;
        }
        if (under) pushStatus(SOAPY_SDR_TX, {SOAPY_SDR_UNDERFLOW, tf, t});
        pushStatus(SOAPY_SDR_TX, {0, SOAPY_SDR_END_BURST | tf, t});
    }

    SoapySDR::Kwargs args_;
    std::string serial_, file_, txPath_, log_;
    bool realtime_ = false, loop_ = false, noTime_ = false, lateAll_ = false;
    double speed_ = 1.0;  // wall-clock pacing factor of rate=realtime
    bool reportsOverflow_ = true;
    size_t mtu_ = 4096;
    long long overflowEvery_ = 0, overflowSkip_ = 0, gapEvery_ = 0, gap_ = 0;
    long long statusDropEvery_ = 0, statusDrop_ = 0, underflowEvery_ = 0;

    FILE *rxFile_ = nullptr, *txFile_ = nullptr, *burstFile_ = nullptr;
    long long fileSamples_ = 0;
    std::vector<cf32> tone_;

    char streamTags_[2] = {0, 0};
    std::atomic<bool> active_[2] = {{false}, {false}};
    bool ended_ = false;

    // RX: the device's sample counter counts skipped samples too
    long long rxIndex_ = 0, rxIndex0_ = 0, rxTime0_ = 0;
    Clock::time_point rxWall0_;
    std::atomic<long long> reads_{0}, overflows_{0}, overflowSamples_{0}, gaps_{0},
        gapSamples_{0}, statusDrops_{0}, statusDropSamples_{0};

    // TX bursts
    bool inBurst_ = false, burstHasTime_ = false, burstLate_ = false;
    long long burstTime_ = 0, burstOffset_ = 0, burstCount_ = 0;
    std::atomic<long long> txSamples_{0}, bursts_{0}, lateBursts_{0};

    std::mutex statusMutex_;
    std::condition_variable statusCv_;
    std::deque<Status> status_[2];

    mutable std::mutex timeMutex_;
    long long time0_ = 0;
    Clock::time_point wall0_;

    double rate_[2], freq_[2], bw_[2];
    std::string antenna_[2];
    std::map<std::string, double> gains_[2];
    bool agc_ = false;
    std::string clock_ = "internal", timeSrc_ = "internal";
};

SoapySDR::KwargsList findOrbitFake(const SoapySDR::Kwargs &args)
{
    auto d = arg(args, "driver");
    if (!d.empty() && d != "orbitfake") return {};
    SoapySDR::Kwargs out = args;  // echo file=, rate=... so that make() sees them
    out.erase("driver");
    out["serial"] = arg(args, "serial", "0");
    out["label"] = "OrbitFake #" + out["serial"];
    return {out};
}

SoapySDR::Device *makeOrbitFake(const SoapySDR::Kwargs &args) { return new OrbitFake(args); }

SoapySDR::Registry registerOrbitFake("orbitfake", &findOrbitFake, &makeOrbitFake,
                                     SOAPY_SDR_ABI_VERSION);

}  // namespace
