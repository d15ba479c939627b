// Package jsoncomm is the one contract between the host and the guest agent:
// how they find each other at boot, how messages are framed on the control
// channel, and the typed requests and replies they exchange. Both host/ and
// guest/ import it; they share nothing else.
//
// A frame is a 4-byte big-endian length followed by that many bytes of JSON,
// one Message. Neither side accepts a frame over MaxMessageSize: bulk data
// (trees, artifacts, sources) travels through virtiofs shares, never here.
//
// A session starts with the guest sending a hello (its protocol version,
// agent version and architecture); the host answers with its own hello. A
// version mismatch ends the session with ErrProtocol on both ends. After
// that the host sends calls, each with a unique ID; the guest answers each
// with exactly one reply carrying the same ID, and may send any number of log
// messages for that ID before the reply. The host may send a cancel for an
// ID it is waiting on; the guest then stops that call's work and replies
// with an error of kind "canceled".
package jsoncomm

// ProtocolVersion changes whenever a message or method changes shape.
const ProtocolVersion = 1

// MaxMessageSize bounds one frame in either direction, so that a
// misbehaving peer cannot make the other allocate without limit.
const MaxMessageSize = 8 << 20

// Boot-time contract: the host passes these on the kernel command line and
// attaches the devices they name.
const (
	// CmdlineChannel selects the control channel: "virtio-serial" or
	// "vsock:<port>".
	CmdlineChannel = "osbuildvm.channel"
	// CmdlineShare names one virtiofs tag to mount, "<tag>" or "<tag>:ro";
	// it may appear several times.
	CmdlineShare = "osbuildvm.share"
	// CmdlineDebug, when "1", makes the agent log to the console.
	CmdlineDebug = "osbuildvm.debug"

	// VirtioSerialName is the name of the virtserialport the agent opens
	// (/dev/virtio-ports/<name>).
	VirtioSerialName = "org.osbuild-vm.control"
	// VsockPort is the port the agent listens on when the channel is vsock.
	VsockPort = 1024
	// SharesDir is where the agent mounts each share, at SharesDir/<tag>.
	SharesDir = "/run/osbuild-vm/shares"
)
