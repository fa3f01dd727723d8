package main

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// memoryLimitMiB is the lua_memory_limit of TestMemoryLimitUnderCap, and
// capHeadroomMiB the address space the process may add to what it uses
// once started: a few times the limit.
const (
	memoryLimitMiB = 64
	capHeadroomMiB = 8 * memoryLimitMiB
)

// capAddressSpace limits the address space of the running host to what it
// uses now plus capHeadroomMiB, with prlimit (util-linux). Go reserves
// well over a GiB of address space as it starts, whatever the heap will
// be, so the cap is set on the started process, relative to that.
func capAddressSpace(t *testing.T, p *hostProcess) {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var vmKiB int64
	for _, l := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmSize:"); ok {
			vmKiB, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	if vmKiB == 0 {
		t.Fatalf("no VmSize in /proc/%d/status", p.cmd.Process.Pid)
	}
	limit := vmKiB<<10 + capHeadroomMiB<<20
	out, err := exec.Command("prlimit", "--pid", strconv.Itoa(p.cmd.Process.Pid), "--as="+strconv.FormatInt(limit, 10)).CombinedOutput()
	if err != nil {
		t.Fatalf("prlimit: %v\n%s", err, out)
	}
	t.Logf("address space capped at %d MiB (%d MiB used at start)", limit>>20, vmKiB>>10)
}

// exited reports whether the host process has ended (and keeps the result
// for Cleanup).
func (p *hostProcess) exited() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return true
	default:
		return false
	}
}

// waitLog waits until the host's log has n lines matching re (the log
// reaches the test through a pipe, after the answer may have).
func (p *hostProcess) waitLog(re *regexp.Regexp, n int) bool {
	deadline := time.Now().Add(10 * time.Second)
	for len(re.FindAllString(p.log(), -1)) < n {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// TestMemoryLimitUnderCap runs the host with lua_memory_limit 64MiB and
// its address space capped a few times above: a handler doubling a string
// without end and one keeping 16 MiB table.concat results are stopped,
// the log names the line each was on, the process survives, and another
// user is answered afterwards. Without the limit, the same cap kills the
// process: the cap is real.
func TestMemoryLimitUnderCap(t *testing.T) {
	if _, err := exec.LookPath("prlimit"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prlimit (util-linux) is needed for this test")
		}
		t.Skip("prlimit (util-linux) is not installed: the memory cap cannot be set")
	}
	flags := []string{"--session_storage", "memory", "--scripts", "testdata/memory", "--handler_timeout", "60s"}

	t.Run("without the limit the cap kills the process", func(t *testing.T) {
		p := startHost(t, append(flags, "--lua_memory_limit", "64GiB")...)
		capAddressSpace(t, p)
		go deliverText(p.simulator(t, false), "oDouble", "double")
		select {
		case <-p.done:
			p.done <- nil
		case <-time.After(60 * time.Second):
			t.Fatal("the process survived a string doubling without end: the cap does not bite")
		}
		if !strings.Contains(p.log(), "out of memory") {
			t.Errorf("the process ended, but not out of memory:\n%s", p.log())
		}
	})

	t.Run("with the limit", func(t *testing.T) {
		p := startHost(t, append(flags, "--lua_memory_limit", strconv.Itoa(memoryLimitMiB)+"MiB")...)
		capAddressSpace(t, p)
		sim := p.simulator(t, false)
		collected := regexp.MustCompile(`msg="the memory of the Lua calls stopped by lua_memory_limit is collected"`)
		stops := 0
		for round := 0; round < 2; round++ {
			// The line is one of the loop's: where the stop found it.
			for _, c := range []struct{ text, lines string }{{"double", "(8|9|10)"}, {"hoard", "(18|19|20)"}} {
				got, _, err := deliverText(sim, "o"+c.text, c.text)
				if err != nil || p.exited() {
					t.Fatalf("%s: %q, %v; the process exited: %v\n%s", c.text, got, err, p.exited(), p.log())
				}
				if !strings.Contains(got, "success") {
					t.Errorf("%s answered %q", c.text, got)
				}
				want := regexp.MustCompile(`msg="a Lua call was stopped by lua_memory_limit; its state is discarded" ` +
					`err="bot\.lua:` + c.lines + `: stopped: the Go heap \(\d+MiB\) passed lua_memory_limit \(64MiB\) while it ran`)
				if !p.waitLog(want, round+1) {
					t.Errorf("%s: the log does not have %d lines matching %s:\n%s", c.text, round+1, want, p.log())
				}
				// The next message waits until the stopped call's memory is
				// collected: until then it is in the heap.
				if !p.waitLog(collected, stops+1) {
					t.Fatalf("%s: the memory of the stopped call was not collected:\n%s", c.text, p.log())
				}
				stops++
			}
			if got, _, err := deliverText(sim, "oOther", "hi"); err != nil || !strings.Contains(got, "echo: hi kept=0") {
				t.Errorf("another user after the stopped calls: %q, %v", got, err)
			}
		}
		stopLines := regexp.MustCompile(`msg="the Go heap passed lua_memory_limit: the Lua calls running now are stopped and their states discarded" heap=(\d+MiB) lua_memory_limit=64MiB calls=bot.lua:(6|13)`)
		if !p.waitLog(stopLines, 4) {
			t.Errorf("no log line for the limit:\n%s", p.log())
		}
		var heaps []string
		for _, m := range stopLines.FindAllStringSubmatch(p.log(), -1) {
			heaps = append(heaps, m[1])
		}
		t.Logf("the heap when the calls were stopped: %s", strings.Join(heaps, ", "))
	})
}
