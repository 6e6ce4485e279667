//! Native WebRTC data-channel links for catalk peers (the virtual client and native test peers).
